import { expect } from 'vitest';
import { metricsOf, openCollector, startDelivery } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { Scenario } from '../types.js';
import { drained, sentCounted } from './resilience.js';

/** Reads one sample of a Prometheus counter for the connector from the text exposition. */
function sample(text: string, metric: string, connector: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) && line.includes(`connector="${connector}"`) && !line.includes('result='))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** The pipeline's counters and Prometheus metrics equal what actually arrived. */
export const metricsMatchDelivery: Scenario = {
  name: 'metrics-counted',
  description: 'points sent / ingested / batches in the metrics snapshot and on /metrics equal what the peer received',
  timeoutMs: 60_000,
  async run(ctx) {
    const collector = await openCollector(ctx);
    const d = await startDelivery(ctx, { kind: 'plain' });
    const points = makePoints(2_000, 'metrics');
    for (let i = 0; i < points.length; i += 250) await d.ingest(points.slice(i, i + 250));
    await drained(d, 30_000);
    await expectDelivered(collector, points, 20_000, ctx.target.capabilities);
    await sentCounted(d, points.length);
    const m = metricsOf(d);
    expect(m.ingested, 'ingested').toBe(points.length);
    expect(m.sent, 'sent (acknowledged)').toBe(points.length);
    expect(m.deadLettered, 'dead-lettered').toBe(0);
    expect(m.dropped, 'dropped').toBe(0);
    expect(m.batches, 'batches').toBeGreaterThan(0);
    expect(m.queue.depth, 'queue depth').toBe(0);
    const text = await d.pipeline.registry.metrics();
    expect(sample(text, 'bifrost_cloud_data_points_sent_total', d.name), 'bifrost_cloud_data_points_sent_total').toBe(
      points.length,
    );
    expect(sample(text, 'bifrost_cloud_buffer_size', d.name), 'bifrost_cloud_buffer_size').toBe(0);
  },
};
