// `pnpm bench pipeline`: what the delivery pipeline costs on top of the queue. For the memory queue
// and the SQLite queue (sync=batch): ingest -> route -> enqueue -> lease -> write -> ack of N points
// through `createPipeline` with a connector whose write acknowledges at once, beside the same work
// done by a hand-written loop on the same queue kind in the same run (enqueue 1000, lease 1000, write,
// settle); plus ingest-to-ack latency of single points against the same loop doing one point; plus
// a connector declaring per-device ordering (one batch in flight) whose write waits for a simulated
// broker (a worker thread that spends a fixed time per batch before acknowledging, as a broker
// process on the other core would), beside the hand-written loop doing the same writes one at a time.
// The hand loop has the pipeline's concurrency: a producer enqueueing while as many consumers as the
// pipeline's batches in flight lease, write and settle. Our side runs with the delivery defaults and
// tuned; median and range of alternating rounds. Bounded: well under a minute.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { defineConnector } from '../dist/index.js';
import { createMemoryQueue, createPipeline, openSqliteQueue } from '../dist/host.js';
import type { DataPoint } from '../dist/index.js';
import type { DurableQueue } from '../dist/host.js';
import { benchPoints } from './_points.ts';
// By path: core cannot depend on the testkit (the testkit depends on core).
import {
  alternate,
  compareRounds,
  machineLoad,
  spread,
  writeResults,
  type BenchCase,
} from '../../connector-testkit/src/bench/rounds.ts';
import type { DeliveryOptionsInput } from '../dist/host.js';

const POINTS = Number(process.env.BIFROST_BENCH_PIPELINE_POINTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHUNK = 1000;
const LATENCY_SAMPLES = 200;
/** Time the simulated broker spends on one batch before acknowledging it, ms. */
const BROKER_MS = Number(process.env.BIFROST_BENCH_PIPELINE_BROKER_MS ?? 1);
const work = mkdtempSync(join(tmpdir(), 'bifrost-bench-pipeline-'));
// The simulated broker: busy for `ms` per request on its own thread, then answers.
const broker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   parentPort.on('message', ({ id, ms }) => { const end = performance.now() + ms; while (performance.now() < end); parentPort.postMessage(id); });`,
  { eval: true },
);
broker.unref();
const pending = new Map<number, () => void>();
let requests = 0;
broker.on('message', (id: number) => {
  pending.get(id)?.();
  pending.delete(id);
});
/** One write to the simulated broker: resolves when it acknowledged (after `ms` of its work). */
function roundTrip(ms: number): Promise<void> {
  const id = ++requests;
  return new Promise<void>((resolve) => {
    pending.set(id, resolve);
    broker.postMessage({ id, ms });
  });
}

/**
 * A connector that acknowledges every write (after the simulated broker spent `brokerMs` on it, else at once) and calls
 * `onWrite` with the batch size; `perDevice` declares per-device ordering (run with one stream: one batch in flight).
 */
function instantConnector(onWrite: (n: number) => void, opts: { brokerMs?: number; perDevice?: boolean } = {}) {
  return defineConnector({
    type: 'instant',
    configSchema: z.object({}),
    capabilities: { maxBatch: CHUNK, ordering: opts.perDevice ? 'per-device' : 'none' },
    create: () => ({
      connect: () => Promise.resolve(),
      write: async (batch: readonly DataPoint[]) => {
        if (opts.brokerMs) await roundTrip(opts.brokerMs);
        onWrite(batch.length);
      },
      close: () => Promise.resolve(),
    }),
  });
}

let dbSeq = 0;
async function openQueue(kind: string): Promise<DurableQueue> {
  if (kind === 'memory') return createMemoryQueue();
  return openSqliteQueue(join(work, `q${dbSeq++}.db`), { sync: 'batch' });
}

/**
 * The hand-written loop with the pipeline's concurrency: one producer enqueues chunks while `workers`
 * consumers each lease a chunk, write it (to the simulated broker when `brokerMs`) and settle it.
 * Points per second.
 */
async function rawThroughput(kind: string, workers: number, brokerMs = 0): Promise<number> {
  const q = await openQueue(kind);
  let written = 0;
  let produced = false;
  const t0 = performance.now();
  const producer = (async () => {
    for (let sent = 0; sent < POINTS; sent += CHUNK)
      await q.enqueue(benchPoints(CHUNK).map((point) => ({ connector: 'cloud', point, priority: 0 })));
    produced = true;
  })();
  const consumers = Array.from({ length: workers }, async () => {
    while (written < POINTS) {
      const lease = await q.lease('cloud', CHUNK);
      if (!lease) {
        if (produced && q.stats('cloud').points === 0) break;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      if (brokerMs) await roundTrip(brokerMs);
      written += lease.points.length;
      await q.settle(lease, { acked: 'all' });
    }
  });
  await Promise.all([producer, ...consumers]);
  const rate = written / ((performance.now() - t0) / 1000);
  if (written !== POINTS) throw new Error(`hand loop wrote ${written} of ${POINTS}`);
  await q.close();
  return rate;
}

/** The same points through createPipeline: a producer ingests chunks while the loop delivers. */
async function pipelineThroughput(
  kind: string,
  delivery: DeliveryOptionsInput,
  connector: { brokerMs?: number; perDevice?: boolean } = {},
): Promise<number> {
  const q = await openQueue(kind);
  let written = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const pipeline = createPipeline({
    queue: q,
    connectors: [
      {
        name: 'cloud',
        definition: instantConnector((n) => {
          written += n;
          if (written >= POINTS) done();
        }, connector),
        config: {},
        delivery,
      },
    ],
  });
  pipeline.start();
  const t0 = performance.now();
  for (let sent = 0; sent < POINTS; sent += CHUNK) await pipeline.ingest(benchPoints(CHUNK));
  await finished;
  while (q.stats('cloud').points > 0) await new Promise((r) => setTimeout(r, 1));
  const rate = POINTS / ((performance.now() - t0) / 1000);
  await pipeline.stop({ deadlineMs: 1000 });
  await q.close();
  return rate;
}

/** Single-point ingest-to-ack latency through the pipeline (flushIntervalMs 0), median ms. */
async function pipelineLatency(kind: string): Promise<number> {
  const q = await openQueue(kind);
  let onWrite: () => void = () => undefined;
  const pipeline = createPipeline({
    queue: q,
    connectors: [
      {
        name: 'cloud',
        definition: instantConnector(() => onWrite()),
        config: {},
        delivery: { batchSize: 1, flushIntervalMs: 0, maxInFlight: 1 },
      },
    ],
  });
  pipeline.start();
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const written = new Promise<void>((r) => (onWrite = r));
    const t0 = performance.now();
    await pipeline.ingest(benchPoints(1));
    await written;
    samples.push(performance.now() - t0);
  }
  await pipeline.stop({ deadlineMs: 1000 });
  await q.close();
  return spread(samples).median;
}

/** The same single point through the hand-written loop, median ms. */
async function rawLatency(kind: string): Promise<number> {
  const q = await openQueue(kind);
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    const [point] = benchPoints(1);
    if (!point) throw new Error('no bench point');
    await q.enqueue([{ connector: 'cloud', point, priority: 0 }]);
    const lease = await q.lease('cloud', 1);
    if (!lease) throw new Error('nothing leased');
    samples.push(performance.now() - t0);
    await q.settle(lease, { acked: 'all' });
  }
  await q.close();
  return spread(samples).median;
}

/** Tuned: batches of the ingest chunk, a short flush; the defaults: 1000-point batches, 1 s flush, 2 in flight. */
const TUNED: DeliveryOptionsInput = { batchSize: CHUNK, flushIntervalMs: 50, maxInFlight: 2 };
const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

const cases: BenchCase[] = [];
try {
  for (const kind of ['memory', 'sqlite']) {
    const label = kind === 'memory' ? 'memory' : 'sqlite sync=batch';
    const note = `median of ${ROUNDS} alternating rounds; ${machineLoad()}`;
    const t = await alternate(ROUNDS, {
      defaults: () => pipelineThroughput(kind, {}),
      tuned: () => pipelineThroughput(kind, TUNED),
      raw: () => rawThroughput(kind, 2),
    });
    const raw = `hand loop: 1 producer + 2 consumers (lease ${CHUNK}, write, settle)`;
    cases.push(
      compareRounds(`${label} pipeline, defaults (batch 1000, 2 in flight, flush 1000 ms); ${raw}`, t.defaults, t.raw, {
        note,
      }),
      compareRounds(`${label} pipeline, tuned (batch ${CHUNK}, 2 in flight, flush 50 ms); ${raw}`, t.tuned, t.raw, {
        note,
      }),
    );
    // Per-device with one stream: one batch in flight, as the hand loop with one consumer.
    const d = await alternate(ROUNDS, {
      ours: () => pipelineThroughput(kind, { ...TUNED, maxInFlight: 1 }, { brokerMs: BROKER_MS, perDevice: true }),
      raw: () => rawThroughput(kind, 1, BROKER_MS),
    });
    cases.push(
      compareRounds(
        `${label} pipeline per-device (1 batch in flight) batch=${CHUNK}, broker ${BROKER_MS} ms per batch; hand loop: 1 producer + 1 consumer`,
        d.ours,
        d.raw,
        { note },
      ),
    );
    const l = await alternate(ROUNDS, { ours: () => pipelineLatency(kind), raw: () => rawLatency(kind) });
    const ours = spread(l.ours);
    const raw1 = spread(l.raw);
    cases.push({
      case: `${label} single-point ingest-to-write latency (ms, lower is better; ratio = hand loop / ours)`,
      points_per_s: 0,
      baseline_points_per_s: 0,
      ratio: Math.round((raw1.median / ours.median) * 100) / 100,
      median_ms: round3(ours.median),
      median_ms_min: round3(ours.min),
      median_ms_max: round3(ours.max),
      baseline_median_ms: round3(raw1.median),
      baseline_median_ms_min: round3(raw1.min),
      baseline_median_ms_max: round3(raw1.max),
      rounds: ROUNDS,
      note: `median of ${LATENCY_SAMPLES} samples per round; ${note}`,
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  // An unref'd worker still holds the event loop through its message port on Node 24.
  await broker.terminate();
}

writeResults('pipeline', cases, { points: POINTS });
