import { expect } from 'vitest';
import type { DataPoint } from '@bifrost/core';
import { healthOf, metricsOf, openCollector, sleep, startDelivery, waitUntil, type Delivery } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { Scenario, ScenarioContext } from '../types.js';

/** Ingests `points` in chunks of `chunk` every `everyMs`, like a steady source. */
export async function ingestSteadily(
  d: Delivery,
  points: readonly DataPoint[],
  chunk: number,
  everyMs: number,
): Promise<void> {
  for (let i = 0; i < points.length; i += chunk) {
    await d.ingest(points.slice(i, i + chunk));
    await sleep(everyMs);
  }
}

/**
 * Waits until the pipeline counted `n` points sent. The queue forgets an acknowledged point at once,
 * but the pipeline counts it only after the acknowledgement is committed (a moment later), so an
 * empty queue alone does not mean the counters are final.
 */
export function sentCounted(d: Delivery, n: number, timeoutMs = 5_000): Promise<void> {
  return waitUntil(
    () => metricsOf(d).sent >= n,
    timeoutMs,
    () => `${n} points counted as sent (counted ${metricsOf(d).sent})`,
  );
}

/** Waits until the connector's lane is empty (everything acknowledged or dead-lettered). */
export function drained(d: Delivery, timeoutMs: number): Promise<void> {
  return waitUntil(
    () => d.queue.stats(d.name).points === 0,
    timeoutMs,
    () => `an empty queue (${d.queue.stats(d.name).points} points left; health: ${JSON.stringify(healthOf(d))})`,
  );
}

/**
 * Streams 6,000 points through the pipeline and bounces the peer with `bounce` once 1,000 were
 * acknowledged: the pipeline reconnects and every point arrives, none dead-lettered.
 */
async function bounceMidStream<P>(
  ctx: ScenarioContext<P>,
  bounce: (peer: P) => Promise<void>,
  what: string,
  tag: string,
): Promise<void> {
  const collector = await openCollector(ctx);
  const d = await startDelivery(ctx, { kind: 'plain' });
  const points = makePoints(6_000, tag);
  const streaming = ingestSteadily(d, points, 100, 25);
  await waitUntil(
    () => metricsOf(d).sent >= 1_000,
    20_000,
    () => `1,000 points sent before the peer was ${what} (sent ${metricsOf(d).sent})`,
  );
  await bounce(ctx.peer);
  ctx.log(`peer ${what} after ${metricsOf(d).sent} points were acknowledged`);
  await streaming;
  await drained(d, 45_000);
  // Checked before the read-back: a point dead-lettered while the peer was down would otherwise
  // show only as "missing", without the reason the connector gave.
  const dead = await d.queue.listDeadLetters({ connector: d.name, limit: 3 });
  expect(
    dead.map((e) => `${e.point.id}: ${e.code} ${e.reason}`),
    'points dead-lettered while the peer bounced',
  ).toEqual([]);
  await expectDelivered(collector, points, 20_000, ctx.target.capabilities);
  await sentCounted(d, points.length);
  const m = metricsOf(d);
  expect(m.sent, 'points acknowledged').toBe(points.length);
  expect(m.deadLettered, 'dead-lettered').toBe(0);
  await waitUntil(
    () => healthOf(d).connected,
    10_000,
    () => 'the connector to report connected again',
  );
}

/** The peer restarts while points stream in: the pipeline reconnects and nothing is lost. */
export const peerRestart: Scenario = {
  name: 'peer-restart-mid-stream',
  description: 'the peer restarts while points stream through the pipeline: it reconnects and every point arrives',
  timeoutMs: 90_000,
  async run(ctx) {
    const restart = ctx.target.restart;
    if (!restart) return ctx.skip('no restart(peer) given');
    await bounceMidStream(ctx, restart, 'restarted', 'restart');
  },
};

/**
 * The peer is killed with SIGKILL while points stream in and started again: what it acknowledged
 * before dying must have been durable, the rest is redelivered, and nothing is lost.
 */
export const peerKilled: Scenario = {
  name: 'peer-killed-mid-stream',
  description:
    'peer killed (SIGKILL) mid-stream: nothing lost (every point acknowledged before the kill survives it, the rest is redelivered)',
  timeoutMs: 90_000,
  async run(ctx) {
    const kill = ctx.target.kill;
    if (!kill) return ctx.skip('no kill(peer) given');
    await bounceMidStream(ctx, kill, 'killed with SIGKILL and started again', 'killed');
  },
};

/** Down for ~10 s: the breaker opens, points wait in the queue, and once the peer is back the breaker closes and all arrive. */
export const peerDownThenUp: Scenario = {
  name: 'peer-down-then-up',
  description:
    'the peer is down for 10 s: the breaker opens and health turns red, nothing is dropped; when it is back the breaker closes and every point arrives',
  timeoutMs: 90_000,
  async run(ctx) {
    const { stop, start } = ctx.target;
    if (!stop || !start) return ctx.skip('no stop(peer) / start(peer) given');
    const collector = await openCollector(ctx);
    const d = await startDelivery(ctx, { kind: 'plain' });
    const before = makePoints(500, 'down-before');
    await d.ingest(before);
    await drained(d, 20_000);

    await stop(ctx.peer);
    const downSince = Date.now();
    let restarted = false;
    try {
      const during = makePoints(1_000, 'down-during');
      await ingestSteadily(d, during, 100, 100);
      await waitUntil(
        () => healthOf(d).breaker === 'open',
        9_000,
        () => `the breaker to open (health: ${JSON.stringify(healthOf(d))})`,
      );
      expect(healthOf(d).status, 'health while the peer is down').toBe('unhealthy');
      expect(d.queue.stats(d.name).points, 'points kept queued during the outage').toBe(during.length);
      expect(metricsOf(d).deadLettered, 'nothing dead-lettered during the outage').toBe(0);
      await sleep(Math.max(0, 10_000 - (Date.now() - downSince)));
      await start(ctx.peer);
      restarted = true;
      ctx.log(`peer was down ${Date.now() - downSince} ms`);
      await drained(d, 30_000);
      await waitUntil(
        () => healthOf(d).breaker === 'closed',
        10_000,
        () => `the breaker to close (health: ${JSON.stringify(healthOf(d))})`,
      );
      await expectDelivered(collector, [...before, ...during], 20_000, ctx.target.capabilities);
      await sentCounted(d, before.length + during.length);
      expect(metricsOf(d).sent).toBe(before.length + during.length);
    } finally {
      if (!restarted) await start(ctx.peer);
    }
  },
};
