// `pnpm bench pipeline`: what the delivery pipeline costs on top of the queue. For the memory queue
// and the SQLite queue (sync=batch): ingest -> route -> enqueue -> lease -> write -> ack of N points
// through `createPipeline` with a connector whose write acknowledges at once, beside the same work
// done by a hand-written loop on the same queue kind in the same run (enqueue 1000, lease 1000, write,
// settle); plus ingest-to-ack latency of single points against the same loop doing one point; plus
// a connector declaring per-device ordering (one batch in flight) whose write waits for a simulated
// broker (a worker thread that spends a fixed time per batch before acknowledging, as a broker
// process on the other core would), beside the hand-written loop doing the same writes one at a time.
// Each figure is the best of 3 alternating runs. Bounded: a few seconds in total.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { defineConnector } from '../dist/index.js';
import { createMemoryQueue, createPipeline, openSqliteQueue } from '../dist/host.js';
import type { DataPoint } from '../dist/index.js';
import type { DurableQueue } from '../dist/host.js';
import { benchPoints } from './_points.ts';

const POINTS = Number(process.env.BIFROST_BENCH_PIPELINE_POINTS ?? 100_000);
const ROUNDS = 3;
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

/** The hand-written loop: enqueue a chunk, lease it, write it (to the simulated broker when `brokerMs`), ack it. Points per second. */
async function rawThroughput(kind: string, brokerMs = 0): Promise<number> {
  const q = await openQueue(kind);
  let written = 0;
  const write = async (batch: readonly DataPoint[]) => {
    if (brokerMs) await roundTrip(brokerMs);
    written += batch.length;
  };
  const t0 = performance.now();
  for (let sent = 0; sent < POINTS; sent += CHUNK) {
    const points = benchPoints(CHUNK);
    await q.enqueue(points.map((point) => ({ connector: 'cloud', point, priority: 0 })));
    const lease = await q.lease('cloud', CHUNK);
    if (!lease) throw new Error('nothing leased');
    await write(lease.points);
    await q.settle(lease, { acked: 'all' });
  }
  const rate = written / ((performance.now() - t0) / 1000);
  await q.close();
  return rate;
}

/** The same points through createPipeline: a producer ingests chunks while the loop delivers. */
async function pipelineThroughput(
  kind: string,
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
        // Per-device with one stream: the serial case the raw loop is compared with.
        delivery: { batchSize: CHUNK, flushIntervalMs: 50, maxInFlight: connector.perDevice ? 1 : 2 },
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

function median(xs: readonly number[]): number {
  const m = [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  if (m === undefined) throw new Error('median of no samples');
  return m;
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
  return median(samples);
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
  return median(samples);
}

/** Best of ROUNDS alternating runs of each, so warm-up, GC and a busy shared machine hit both alike. */
async function bestOf(
  a: () => Promise<number>,
  b: () => Promise<number>,
  better: (x: number, y: number) => number,
): Promise<[number, number]> {
  let bestA = NaN;
  let bestB = NaN;
  for (let i = 0; i < ROUNDS; i++) {
    const x = await a();
    const y = await b();
    bestA = Number.isNaN(bestA) ? x : better(bestA, x);
    bestB = Number.isNaN(bestB) ? y : better(bestB, y);
  }
  return [bestA, bestB];
}

const cases: Array<Record<string, string | number>> = [];
try {
  for (const kind of ['memory', 'sqlite']) {
    const label = kind === 'memory' ? 'memory' : 'sqlite sync=batch';
    const [baseline, piped] = await bestOf(
      () => rawThroughput(kind),
      () => pipelineThroughput(kind),
      Math.max,
    );
    cases.push({
      case: `${label} pipeline batch=${CHUNK}`,
      points_per_s: Math.round(piped),
      baseline_points_per_s: Math.round(baseline),
      ratio: Math.round((piped / baseline) * 100) / 100,
    });
    const [rawSerial, perDevice] = await bestOf(
      () => rawThroughput(kind, BROKER_MS),
      () => pipelineThroughput(kind, { brokerMs: BROKER_MS, perDevice: true }),
      Math.max,
    );
    cases.push({
      case: `${label} pipeline per-device (1 batch in flight) batch=${CHUNK}, broker ${BROKER_MS} ms per batch`,
      points_per_s: Math.round(perDevice),
      baseline_points_per_s: Math.round(rawSerial),
      ratio: Math.round((perDevice / rawSerial) * 100) / 100,
    });
    const [rawMs, pipeMs] = await bestOf(
      () => rawLatency(kind),
      () => pipelineLatency(kind),
      Math.min,
    );
    cases.push({
      case: `${label} single-point ingest-to-write latency`,
      median_ms: Math.round(pipeMs * 1000) / 1000,
      baseline_median_ms: Math.round(rawMs * 1000) / 1000,
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  // An unref'd worker still holds the event loop through its message port on Node 24.
  await broker.terminate();
}

console.table(cases);
const dir = process.env.BIFROST_BENCH_RESULTS ?? join(process.cwd(), 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'pipeline.json'), `${JSON.stringify({ name: 'pipeline', points: POINTS, cases }, null, 2)}\n`);
