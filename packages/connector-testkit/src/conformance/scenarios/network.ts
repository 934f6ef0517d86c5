import { expect } from 'vitest';
import { healthOf, metricsOf, openCollector, sleep, startDelivery } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { FaultProxy, NetworkFault, Scenario, ScenarioContext } from '../types.js';
import { drained, ingestSteadily } from './resilience.js';

async function openProxy<P>(ctx: ScenarioContext<P>): Promise<FaultProxy> {
  const { address, faultProxy } = ctx.target;
  if (!address || !faultProxy) return ctx.skip('no address(peer) / faultProxy given');
  const proxy = await faultProxy(address(ctx.peer));
  ctx.defer(() => proxy.close());
  return proxy;
}

/**
 * Streams points through a degraded link: the fault is on for `faultMs` while points flow, then
 * removed; every point must arrive.
 */
/**
 * Whether the fault visibly affected delivery: slower acknowledgements for latency and bandwidth,
 * failed writes or connects for timeout and reset. A fault without effect means the connector did
 * not go through the proxy (check the `proxied` config), and the scenario would prove nothing.
 */
function faultObserved(fault: NetworkFault, m: { p99ResponseTimeMs?: number }, h: { errorCount: number }): boolean {
  switch (fault.type) {
    case 'latency':
      return (m.p99ResponseTimeMs ?? 0) >= fault.latencyMs;
    case 'bandwidth':
      return (m.p99ResponseTimeMs ?? 0) >= 100;
    case 'timeout':
    case 'reset_peer':
    case 'cut_on_marker':
      return h.errorCount > 0;
  }
}

function degradedLink(
  name: string,
  description: string,
  fault: NetworkFault,
  opts: { points: number; faultMs: number; timeoutMs: number },
): Scenario {
  return {
    name,
    description,
    timeoutMs: opts.timeoutMs,
    async run(ctx) {
      const proxy = await openProxy(ctx);
      const collector = await openCollector(ctx);
      const d = await startDelivery(ctx, { kind: 'proxied', host: proxy.listen.host, port: proxy.listen.port });
      const warmup = makePoints(50, `${name}-warm`);
      await d.ingest(warmup);
      await drained(d, 15_000);
      const remove = await proxy.inject(fault);
      let removed = false;
      try {
        const points = makePoints(opts.points, name);
        const streaming = ingestSteadily(d, points, Math.max(1, Math.ceil(opts.points / 20)), opts.faultMs / 20);
        await sleep(opts.faultMs);
        await streaming;
        await remove();
        removed = true;
        await drained(d, opts.timeoutMs / 2);
        await expectDelivered(collector, [...warmup, ...points], 20_000, ctx.target.capabilities);
        const m = metricsOf(d);
        const h = healthOf(d);
        expect(m.deadLettered, 'dead-lettered').toBe(0);
        expect(
          faultObserved(fault, m, h),
          `the fault had a visible effect (p99 ${m.p99ResponseTimeMs?.toFixed(0)} ms, ${h.errorCount} errors); does the 'proxied' config use the proxy's host and port?`,
        ).toBe(true);
        ctx.log(
          `${points.length} points delivered; p99 write ${m.p99ResponseTimeMs?.toFixed(0)} ms, ${m.failedBatches} failed batches, ${h.errorCount} errors`,
        );
      } finally {
        if (!removed) await remove();
      }
    },
  };
}

export const networkLatency = degradedLink(
  'network-latency-500ms',
  '500 ms of added latency: slower, nothing lost',
  { type: 'latency', latencyMs: 500 },
  { points: 1_000, faultMs: 4_000, timeoutMs: 60_000 },
);

// 2,000 points so each write carries kilobytes even gzipped: at 200 points a compressed InfluxDB
// batch took ~100 ms through the 10 KB/s link, on the edge of the visible-effect check.
export const networkBandwidth = degradedLink(
  'network-bandwidth-10kbps',
  'the link limited to 10 KB/s: slower, nothing lost',
  { type: 'bandwidth', kbPerSecond: 10 },
  { points: 2_000, faultMs: 4_000, timeoutMs: 60_000 },
);

export const networkTimeout = degradedLink(
  'network-timeout',
  'the link goes silent (data stops, connection closed after 2 s): writes time out and are retried, nothing lost',
  { type: 'timeout', timeoutMs: 2_000 },
  { points: 500, faultMs: 4_000, timeoutMs: 60_000 },
);

export const networkResetPeer = degradedLink(
  'network-reset-peer',
  'connections are reset (TCP RST) 500 ms after they open: reconnects and retries, nothing lost',
  { type: 'reset_peer', timeoutMs: 500 },
  { points: 500, faultMs: 4_000, timeoutMs: 60_000 },
);
