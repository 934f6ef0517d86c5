import { afterEach, describe, expect, it } from 'vitest';
import { defineConnector, z, type DataPoint } from '../src/index.js';
import { batchSizeWarning, createMemoryQueue, createPipeline, type Pipeline } from '../src/host.js';
import { batchNumberer, fittingPrefix } from '../src/pipeline/batch-limits.js';
import { FAST } from './pipeline-fixtures/harness.js';

const point = (i: number, value: unknown = i): DataPoint => ({
  id: `p${i}`,
  deviceId: `dev${i % 3}`,
  tagName: 't',
  value: value as number,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
});

describe('batch limits', () => {
  const byValue = (p: DataPoint) => Number(p.value);

  it('numbers points into batches by count and by bytes; an oversized point stands alone', () => {
    const next = batchNumberer({ maxPoints: 3, maxBytes: 10, pointBytes: byValue });
    expect([4, 4, 4, 1, 1, 1, 1, 30, 2].map((v, i) => next(point(i, v)))).toEqual([0, 0, 1, 1, 1, 2, 2, 3, 4]);
  });

  it('fits at least one point, and all of them without a byte limit', () => {
    const pts = [20, 1, 1].map((v, i) => point(i, v));
    expect(fittingPrefix(pts, { maxPoints: 10, maxBytes: 10, pointBytes: byValue })).toBe(1);
    expect(fittingPrefix(pts, { maxPoints: 10, maxBytes: undefined, pointBytes: byValue })).toBe(3);
  });

  it('warns when batch_size is above the connector maxBatch', () => {
    expect(batchSizeWarning(5000, { ordering: 'none', maxBatch: 1000 })).toMatch(/batch_size 5000 .* 1000/);
    expect(batchSizeWarning(500, { ordering: 'none', maxBatch: 1000 })).toBeUndefined();
    expect(batchSizeWarning(undefined, { ordering: 'none', maxBatch: 1000 })).toBeUndefined();
  });
});

describe('the host cuts batches to maxBatchBytes', () => {
  let pipeline: Pipeline | undefined;
  afterEach(async () => {
    await pipeline?.stop({ deadlineMs: 200 });
    pipeline = undefined;
  });

  for (const ordering of ['none', 'per-device'] as const) {
    it(`never hands a connector more bytes than it declared (ordering ${ordering})`, async () => {
      const sizes: number[] = [];
      const seen: string[] = [];
      const sink = defineConnector({
        type: 'small',
        configSchema: z.object({}),
        capabilities: { ordering, maxBatch: 100, maxBatchBytes: 50 },
        pointBytes: (p) => Number(p.value),
        create: () => ({
          connect: async () => undefined,
          close: async () => undefined,
          write: async (batch) => {
            sizes.push(batch.reduce((n, p) => n + Number(p.value), 0));
            seen.push(...batch.map((p) => p.id));
          },
        }),
      });
      const queue = createMemoryQueue();
      pipeline = createPipeline({
        queue,
        connectors: [
          { name: 's', definition: sink, config: {}, delivery: { ...FAST, batchSize: 100, maxInFlight: 2 } },
        ],
      });
      const values = Array.from({ length: 60 }, (_, i) => (i === 30 ? 80 : 5 + (i % 7)));
      await pipeline.ingest(values.map((v, i) => point(i, v)));
      pipeline.start();
      await expect.poll(() => queue.stats('s').points, { timeout: 5_000 }).toBe(0);
      expect(seen.sort()).toEqual(values.map((_, i) => `p${i}`).sort());
      for (const s of sizes) expect(s === 80 || s <= 50).toBe(true);
      expect(sizes.length).toBeGreaterThanOrEqual(Math.ceil(values.reduce((a, b) => a + b, 0) / 50));
    });
  }
});
