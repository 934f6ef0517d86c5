// `@bifrost/connector-testkit/bench`: the durable end-to-end bench driver every connector bench uses
// beside its raw client loop. No vitest here: benches run as plain Node scripts (scripts/bench.mjs).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPointId, type ConnectorDefinition, type DataPoint, type TlsMaterial } from '@bifrost/core';
import { createPipeline, openSqliteQueue, type DeliveryOptionsInput } from '@bifrost/core/host';

export { silentLogger } from '../logger.js';

/** One row of `bench/results/<name>.json`. */
export interface BenchCase {
  case: string;
  points_per_s: number;
  baseline_points_per_s: number;
  ratio: number;
}

/** `count` points of `devices` simulated devices, ids and timestamps unique. */
export function makePoints(count: number, devices = 50): DataPoint[] {
  const start = Date.now() - count;
  return Array.from({ length: count }, (_, i) => ({
    id: newPointId(),
    deviceId: `PLC${String(i % devices).padStart(3, '0')}`,
    tagName: 'temperature',
    value: 20 + (i % 1000) / 10,
    quality: 'GOOD',
    timestamp: start + i,
    unit: 'C',
    tags: { line: String(i % 4) },
  }));
}

/**
 * Durable end-to-end throughput: points ingested in chunks into a SQLite queue (sync `batch`: survives
 * kill -9) and delivered by the core pipeline through `definition` until the lane is empty. Returns
 * points per second from the first ingest to the last acknowledgement.
 */
export async function pipelineThroughput(opts: {
  definition: ConnectorDefinition;
  config: unknown;
  points: readonly DataPoint[];
  delivery: DeliveryOptionsInput;
  /** `ctx.tls` of the connector (TLS endpoints). */
  tls?: TlsMaterial;
  /** Points per ingest call (default 1000). */
  ingestChunk?: number;
  /** Concurrent ingest callers (default 4). */
  producers?: number;
}): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-bench-'));
  const queue = await openSqliteQueue(join(dir, 'queue.db'), { sync: 'batch' });
  const name = 'bench';
  const pipeline = createPipeline({
    queue,
    connectors: [
      {
        name,
        definition: opts.definition,
        config: opts.config,
        delivery: opts.delivery,
        ...(opts.tls && { tls: opts.tls }),
      },
    ],
  });
  try {
    pipeline.start();
    // Time delivery, not the connector's first connect (table creation, TLS handshake).
    while (!pipeline.health()[0]?.connected) await new Promise((r) => setTimeout(r, 5));
    const chunks = chunk(opts.points, opts.ingestChunk ?? 1000);
    const t0 = performance.now();
    // Several producers at once, as several sources would: their enqueues share SQLite commits.
    await concurrentLoop(chunks, opts.producers ?? 4, async (c) => {
      await pipeline.ingest(c);
    });
    // Health (which sorts the response-time window) is checked every 100 ms, not at every 2 ms poll:
    // the driver's own monitoring must not cost the measured side.
    let healthCheckedAt = performance.now();
    while (queue.stats(name).points > 0) {
      if (performance.now() - healthCheckedAt >= 100) {
        healthCheckedAt = performance.now();
        const h = pipeline.health()[0];
        if (h && h.status === 'unhealthy')
          throw new Error(`connector unhealthy during bench: ${h.reason ?? h.lastError?.message}`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const seconds = (performance.now() - t0) / 1000;
    return opts.points.length / seconds;
  } finally {
    await pipeline.stop({ deadlineMs: 5000 });
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with `workers` concurrent loops over `batches`; returns points per second. */
export async function concurrentLoop<T>(
  batches: readonly T[][],
  workers: number,
  fn: (batch: T[]) => Promise<void>,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let batch = batches[next++]; batch; batch = batches[next++]) await fn(batch);
    }),
  );
  const points = batches.reduce((n, b) => n + b.length, 0);
  return points / ((performance.now() - t0) / 1000);
}

/** Splits `items` into consecutive slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Writes `<BIFROST_BENCH_RESULTS>/<name>.json` (default `bench/results` of the repo) and prints the table. */
export function writeResults(name: string, cases: BenchCase[]): void {
  const dir = process.env.BIFROST_BENCH_RESULTS ?? join(process.cwd(), '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ name, cases }, null, 2)}\n`);
  for (const c of cases)
    console.log(
      `${c.case}: ${Math.round(c.points_per_s)} points/s vs raw ${Math.round(c.baseline_points_per_s)} points/s = ${c.ratio.toFixed(2)}x`,
    );
}

/** A result row with the ratio of `ours` to `raw` (rounded to two decimals). */
export function benchCase(name: string, ours: number, raw: number): BenchCase {
  return {
    case: name,
    points_per_s: Math.round(ours),
    baseline_points_per_s: Math.round(raw),
    ratio: Math.round((ours / raw) * 100) / 100,
  };
}
