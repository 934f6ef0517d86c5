import { expect } from 'vitest';
import { defineConnector, type Connector, type ConnectorDefinition } from '@bifrost/core';
import { metricsOf, openCollector, sleep, startDelivery } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { FaultProxy, Scenario, ScenarioContext } from '../types.js';
import { drained } from './resilience.js';

/** What {@link watchWrites} saw: point ids found in two writes at once, and how writes ended. */
export interface WriteWatch {
  /** Point ids that entered a write while an earlier write of the same id had not settled. */
  overlapping: Set<string>;
  /** Writes that settled after their signal was aborted (cancelled by the host). */
  cancelled: number;
  /** Writes still running. */
  running: number;
}

/**
 * The plugin with each instance's `write` wrapped to count, per point id, the writes carrying it
 * that have not settled yet: an id found in two at once means a retry overlapped the write it
 * replaced (the host gave up on a write whose connector ignored its signal).
 */
export function watchWrites(plugin: ConnectorDefinition): { plugin: ConnectorDefinition; watch: WriteWatch } {
  const watch: WriteWatch = { overlapping: new Set(), cancelled: 0, running: 0 };
  const inWrite = new Map<string, number>();
  const wrapped = defineConnector({
    type: plugin.type,
    configSchema: plugin.configSchema,
    capabilities: plugin.capabilities,
    pointBytes: plugin.pointBytes,
    endpointAliases: plugin.endpointAliases,
    create(config, pctx): Connector {
      const inner = plugin.create(config, pctx);
      const outer: Connector = {
        connect: () => inner.connect(),
        close: () => inner.close(),
        get maxBatchBytes() {
          return inner.maxBatchBytes;
        },
        get ordering() {
          return inner.ordering;
        },
        async write(batch, options) {
          for (const p of batch) {
            const n = (inWrite.get(p.id) ?? 0) + 1;
            inWrite.set(p.id, n);
            if (n > 1) watch.overlapping.add(p.id);
          }
          watch.running++;
          try {
            return await inner.write(batch, options);
          } finally {
            watch.running--;
            if (options.signal.aborted) watch.cancelled++;
            for (const p of batch) {
              const n = inWrite.get(p.id)! - 1;
              if (n === 0) inWrite.delete(p.id);
              else inWrite.set(p.id, n);
            }
          }
        },
      };
      if (inner.healthCheck) outer.healthCheck = () => inner.healthCheck!();
      return outer;
    },
  });
  return { plugin: wrapped, watch };
}

async function openProxy<P>(ctx: ScenarioContext<P>): Promise<FaultProxy> {
  const { address, faultProxy } = ctx.target;
  if (!address || !faultProxy) return ctx.skip('no address(peer) / faultProxy given');
  const proxy = await faultProxy(address(ctx.peer));
  ctx.defer(() => proxy.close());
  return proxy;
}

/** The host's write timeout in this scenario; the grace period before a retry is as long. */
const WRITE_TIMEOUT_MS = 1_000;

/**
 * Writes hang (the link goes silent through the fault proxy) past the host's short write timeout:
 * the host aborts each write's signal, waits its grace period, and retries. The connector must end
 * the cancelled write (cancel the call or drop the connection), so no point id is ever in two
 * writes at once; once the link is back every point is delivered.
 */
export const writeTimeoutNoOverlap: Scenario = {
  name: 'write-timeout-no-overlap',
  description:
    'a write that hangs past `timeout` is cancelled through its signal and never overlapped by its own retry; nothing lost',
  timeoutMs: 90_000,
  async run(ctx) {
    const proxy = await openProxy(ctx);
    const collector = await openCollector(ctx);
    const { plugin, watch } = watchWrites(ctx.target.plugin);
    const watched = { ...ctx, target: { ...ctx.target, plugin } };
    const d = await startDelivery(
      watched,
      { kind: 'proxied', host: proxy.listen.host, port: proxy.listen.port },
      { timeoutMs: WRITE_TIMEOUT_MS, breaker: { failureThreshold: 1_000 } },
    );
    const warmup = makePoints(20, 'hang-warm');
    await d.ingest(warmup);
    await drained(d, 15_000);
    // Data stops both ways and the connections stay open: every write hangs until cancelled.
    const remove = await proxy.inject({ type: 'timeout', timeoutMs: 0 });
    let removed = false;
    try {
      const points = makePoints(200, 'hang');
      await d.ingest(points);
      // Long enough for writes to time out, be cancelled, get their grace period and be retried.
      await sleep(WRITE_TIMEOUT_MS * 5);
      await remove();
      removed = true;
      await drained(d, 60_000);
      await expectDelivered(collector, [...warmup, ...points], 20_000, ctx.target.capabilities);
      expect(watch.cancelled, 'writes cancelled by the host (did the writes go through the proxy?)').toBeGreaterThan(0);
      expect(
        [...watch.overlapping].slice(0, 5),
        `point ids in two writes at once (${watch.overlapping.size}): a cancelled write kept running past its grace period and its retry overlapped it; honour the write's signal`,
      ).toEqual([]);
      expect(metricsOf(d).deadLettered, 'dead-lettered').toBe(0);
      ctx.log(`${points.length} points delivered; ${watch.cancelled} write(s) cancelled, none overlapped`);
    } finally {
      if (!removed) await remove();
    }
  },
};
