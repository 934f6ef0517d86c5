// `@bifrost/connector-testkit/bench`: the durable end-to-end bench driver every connector bench uses
// beside its raw client loop. No vitest here: benches run as plain Node scripts (scripts/bench.mjs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  newPointId,
  type ConnectorCapabilities,
  type ConnectorDefinition,
  type DataPoint,
  type TlsMaterial,
} from '@bifrost/core';
import {
  connectorDeliveryDefaults,
  createPipeline,
  DEFAULT_DELIVERY_OPTIONS,
  openSqliteQueue,
  type DeliveryOptionsInput,
} from '@bifrost/core/host';
import { alternate, compareRounds, machineLoad, type BenchCase } from './rounds.js';

export { silentLogger } from '../logger.js';
export * from './rounds.js';
export type { DeliveryOptionsInput } from '@bifrost/core/host';

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

/**
 * Our delivery settings in a case name: `batch 100, 2 in flight, flush 1000 ms`; unset fields as the
 * connector with `capabilities` gets them by default.
 */
export function describeDelivery(d: DeliveryOptionsInput, capabilities?: ConnectorCapabilities): string {
  const o = { ...(capabilities ? connectorDeliveryDefaults(capabilities) : DEFAULT_DELIVERY_OPTIONS), ...d };
  return `batch ${o.batchSize}, ${o.maxInFlight} in flight, flush ${o.flushIntervalMs} ms`;
}

/**
 * The connector bench: for each batch size, first one run per window of the raw loop and of our tuned
 * side to find each one's best window, then `rounds` alternating rounds of our side with the delivery
 * defaults a user gets, our side tuned (that batch size, its best window) and the raw loop (its best
 * window). Returns two rows per batch size, defaults and tuned, both against the same raw samples.
 */
export async function connectorCases(opts: {
  /** What our side is, e.g. `durable e2e (SQLite queue sync=batch + pipeline + connector)`. */
  ours: string;
  /** What the raw loop is, e.g. `amqplib confirm-channel publish loop`. */
  raw: string;
  batches: readonly number[];
  /** In-flight windows tried for both sides. */
  windows: readonly number[];
  rounds: number;
  runRaw: (batch: number, window: number) => Promise<number>;
  runOurs: (delivery: DeliveryOptionsInput) => Promise<number>;
  /** Flush interval of the tuned side (default 5 ms). */
  flushIntervalMs?: number;
  /** The connector's capabilities, for its own delivery defaults in the case names. */
  capabilities?: ConnectorCapabilities;
}): Promise<BenchCase[]> {
  const cases: BenchCase[] = [];
  for (const batch of opts.batches) {
    const tunedFor = (w: number): DeliveryOptionsInput => ({
      batchSize: batch,
      maxInFlight: w,
      flushIntervalMs: opts.flushIntervalMs ?? 5,
    });
    let rawWindow = opts.windows[0] ?? 1;
    let ourWindow = rawWindow;
    let rawBest = 0;
    let ourBest = 0;
    for (const w of opts.windows) {
      const r = await opts.runRaw(batch, w);
      const o = await opts.runOurs(tunedFor(w));
      console.log(`tuning batch ${batch}, ${w} in flight: raw ${Math.round(r)}, ours ${Math.round(o)} points/s`);
      if (r > rawBest) [rawBest, rawWindow] = [r, w];
      if (o > ourBest) [ourBest, ourWindow] = [o, w];
    }
    const tuned = tunedFor(ourWindow);
    const s = await alternate(
      opts.rounds,
      {
        defaults: () => opts.runOurs({}),
        tuned: () => opts.runOurs(tuned),
        raw: () => opts.runRaw(batch, rawWindow),
      },
      (round, x) =>
        console.log(
          `batch ${batch} round ${round}: defaults ${Math.round(x.defaults)}, tuned ${Math.round(x.tuned)}, raw ${Math.round(x.raw)} points/s`,
        ),
    );
    const raw = `raw: ${opts.raw}, batch ${batch}, ${rawWindow} in flight (its best of ${opts.windows.join('/')})`;
    const note = `median of ${opts.rounds} alternating rounds (defaults, tuned, raw); ${machineLoad()}`;
    cases.push(
      compareRounds(`${opts.ours}, defaults (${describeDelivery({}, opts.capabilities)}); ${raw}`, s.defaults, s.raw, {
        note,
      }),
      compareRounds(`${opts.ours}, tuned (${describeDelivery(tuned, opts.capabilities)}); ${raw}`, s.tuned, s.raw, {
        note,
      }),
    );
  }
  return cases;
}
