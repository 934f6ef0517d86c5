import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { startFaultProxy } from '../../peers/fault-proxy.js';
import { healthOf, metricsOf, openCollector, sleep, startDelivery, waitUntil } from '../harness.js';
import type { DataPoint } from '@bifrost/core';
import { expectDelivered, makePoint, makePoints } from '../points.js';
import { drained } from './resilience.js';
import { UnsupportedFaultError, type FaultProxy, type Scenario, type ScenarioContext } from '../types.js';

/** Dead-letter code of a point the host isolated by bisection (core's `SUSPECTED_POISON_CODE`). */
const SUSPECTED_POISON = 'BIFROST_ERR_SUSPECTED_POISON';
/** Most failed writes the host may spend isolating one poison point among 40 (each one an attempt with the poison). */
const MAX_FAILED_WRITES = 30;

/**
 * A proxy in front of the peer that can cut on a marker: the target's own `faultProxy` when it can,
 * else the testkit's node-engine proxy on the same address (Toxiproxy cannot read the bytes; a
 * Kafka listener advertises that address).
 */
async function openMarkerProxy<P>(ctx: ScenarioContext<P>, marker: string): Promise<FaultProxy> {
  const { address, faultProxy } = ctx.target;
  if (!address) return ctx.skip('no address(peer): the scenario needs a proxy in front of the peer');
  const upstream = address(ctx.peer);
  let listen: FaultProxy['listen'] | undefined;
  if (faultProxy) {
    const own = await faultProxy(upstream);
    try {
      await own.inject({ type: 'cut_on_marker', marker });
      ctx.defer(() => own.close());
      return own;
    } catch (err) {
      await own.close();
      if (!(err instanceof UnsupportedFaultError)) throw err;
      listen = own.listen;
    }
  }
  const proxy = await listenRetrying(() => startFaultProxy({ upstream, engine: 'node', ...(listen && { listen }) }));
  ctx.defer(() => proxy.close());
  await proxy.inject({ type: 'cut_on_marker', marker });
  return proxy;
}

/** The address a closed proxy listened on may take a moment to be free. */
async function listenRetrying<T>(start: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await start();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= 20) throw err;
      await sleep(100);
    }
  }
}

/**
 * Poison after send: the peer drops the connection right after one point is sent, every time (a
 * fault proxy cuts the connection whenever the client's bytes carry a marker in the point's device
 * id). The write fails as transient, so only the host's isolation (bisecting the batch, writing the
 * parts alone) finds the point: the good points are delivered, the poison dead-lettered with code
 * `BIFROST_ERR_SUSPECTED_POISON`, within a bounded number of failed writes, and the lane moves on.
 */
export const poisonAfterSend: Scenario = {
  name: 'poison-after-send',
  description:
    'a point after which the peer drops the connection (every time) is isolated by bisection and dead-lettered; the 40 points around it are delivered',
  timeoutMs: 90_000,
  async run(ctx) {
    const marker = `bfpoison${randomBytes(4).toString('hex')}`;
    const proxy = await openMarkerProxy(ctx, marker);
    const collector = await openCollector(ctx);
    const d = await startDelivery(ctx, { kind: 'proxied', ...proxy.listen, plainWire: true });
    const before = makePoints(20, 'poison-send-a');
    const after = makePoints(20, 'poison-send-b');
    const poison = { ...makePoint('poison-send'), deviceId: `conf-${marker}` };
    const started = Date.now();
    await d.ingest([...before, poison, ...after]);
    // Points keep arriving, one every 100 ms, as on a live gateway: the host convicts a suspect only
    // when other writes succeed between its failures, and a batch cut into few parts (per-device
    // order) may not hold enough of them.
    const trickle: DataPoint[] = [];
    const trickling = (async () => {
      while (metricsOf(d).deadLettered === 0 && Date.now() - started < 60_000) {
        const [point] = makePoints(1, 'poison-send-c', trickle.length);
        trickle.push(point!);
        await d.ingest([point!]);
        await sleep(100);
      }
    })();
    await waitUntil(
      () => metricsOf(d).deadLettered >= 1,
      60_000,
      () =>
        `the poison dead-lettered (${d.queue.stats(d.name).points} points left; health: ${JSON.stringify(healthOf(d))})`,
    );
    const isolatedMs = Date.now() - started;
    await trickling;
    await drained(d, 20_000);
    await expectDelivered(collector, [...before, ...after, ...trickle], 20_000, ctx.target.capabilities);
    const dead = await d.queue.listDeadLetters({ connector: d.name });
    expect(
      dead.map((e) => e.point.id),
      'dead-lettered ids',
    ).toEqual([poison.id]);
    const [entry] = dead;
    expect(entry?.code).toBe(SUSPECTED_POISON);
    expect(entry?.reason).toMatch(/^suspected poison/);
    const m = metricsOf(d);
    const writes = m.batches + m.failedBatches;
    expect(m.failedBatches, 'failed writes (the proxy cut the connection)').toBeGreaterThan(0);
    expect(m.failedBatches, `failed writes to isolate the poison (at most ${MAX_FAILED_WRITES})`).toBeLessThanOrEqual(
      MAX_FAILED_WRITES,
    );
    expect(m.sent, 'points acknowledged').toBeGreaterThanOrEqual(40 + trickle.length);
    ctx.log(
      `isolated in ${writes} writes (${m.failedBatches} failed) and ${isolatedMs} ms, ${trickle.length} points arriving meanwhile; ${m.sent} points sent; dead letter: ${entry?.reason}`,
    );
  },
};
