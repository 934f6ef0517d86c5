// `pnpm bench core`: enqueue + lease + ack throughput of the memory and SQLite queues in each sync
// mode with batches of 1, 100 and 1000, beside the simple designs a skeptic would write in the same
// run: for SQLite a chunked FIFO on raw node:sqlite (one row per batch, the queue's own pragmas), for
// the memory queue an in-memory FIFO of batches. Median and range of alternating slices. Then RSS
// from an empty queue to a 1M-point backlog and open time with that backlog.
// Bounded: every case runs for about a second, the whole bench well under two minutes.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createMemoryQueue, openSqliteQueue } from '../dist/host.js';
import type { DurableQueue, EnqueueItem, SyncMode } from '../dist/host.js';
import type { DataPoint } from '../dist/index.js';
import { benchPoint } from './_points.ts';
// By path: core cannot depend on the testkit (the testkit depends on core).
import {
  alternate,
  compareRounds,
  machineLoad,
  writeResults,
  type BenchCase,
} from '../../connector-testkit/src/bench/rounds.ts';

const CASE_MS = Number(process.env.BIFROST_BENCH_CASE_MS ?? 1000);
const BACKLOG = Number(process.env.BIFROST_BENCH_BACKLOG ?? 1_000_000);
const BATCHES = [1, 100, 1000];
const SYNC_PRAGMA: Record<SyncMode, string> = { always: 'FULL', batch: 'NORMAL', interval: 'OFF' };

const work = mkdtempSync(join(tmpdir(), 'bifrost-bench-core-'));
let baselineRuns = 0;

function makeItems(n: number): EnqueueItem[] {
  const out = new Array<EnqueueItem>(n);
  for (let i = 0; i < n; i++) out[i] = { connector: 'cloud', priority: 0, point: benchPoint() };
  return out;
}

const rssMb = () => Math.round((process.memoryUsage().rss / 1048576) * 10) / 10;
const heapMb = () => Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10;

const SLICES = 5;

/** One slice: repeats enqueue(batch) -> lease(batch) -> ack for `ms`; points per second. */
async function queueSlice(q: DurableQueue, batch: number, ms: number): Promise<number> {
  const round = async () => {
    await q.enqueue(makeItems(batch));
    const lease = await q.lease('cloud', batch);
    if (!lease || lease.points.length !== batch) throw new Error(`leased ${lease?.points.length ?? 0} of ${batch}`);
    await q.settle(lease, { acked: 'all' });
  };
  let points = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await round();
    points += batch;
  }
  if (q.stats('cloud').points !== 0) throw new Error('queue not empty after the run');
  return points / ((performance.now() - start) / 1000);
}

interface Baseline {
  slice: (batch: number, ms: number) => number;
  close: () => void;
}

/** Repeats `round(batch)` for `ms`; points per second. */
function timed(round: (batch: number) => void, batch: number, ms: number): number {
  let points = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    round(batch);
    points += batch;
  }
  return points / ((performance.now() - start) / 1000);
}

/** The SQLite file of a chunked FIFO with the queue's pragmas (exclusive locking, WAL, `sync`). */
function chunkedFifo(name: string, sync: string) {
  const db = new DatabaseSync(join(work, name));
  db.exec(`PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=${sync};
    CREATE TABLE chunks (id INTEGER PRIMARY KEY, connector TEXT NOT NULL, priority INTEGER NOT NULL, payload TEXT NOT NULL);`);
  return {
    db,
    insert: db.prepare('INSERT INTO chunks (connector, priority, payload) VALUES (?, ?, ?)'),
    oldest: db.prepare('SELECT id, payload FROM chunks WHERE connector = ? ORDER BY priority DESC, id LIMIT 1'),
    remove: db.prepare('DELETE FROM chunks WHERE id = ?'),
  };
}

/**
 * The chunked durable FIFO a skeptic writes: one row per enqueued batch (its points as one JSON
 * array), each statement its own transaction; lease = the oldest row, parsed; ack = delete it.
 */
function openBaseline(sync: string): Baseline {
  const { db, insert, oldest, remove } = chunkedFifo(`baseline-${++baselineRuns}.db`, sync);
  const round = (batch: number) => {
    insert.run('cloud', 0, JSON.stringify(makeItems(batch).map((i) => i.point)));
    const row = oldest.get('cloud') as { id: number; payload: string } | undefined;
    if (!row || (JSON.parse(row.payload) as unknown[]).length !== batch) throw new Error('baseline lost a chunk');
    remove.run(row.id);
  };
  return { slice: (batch, ms) => timed(round, batch, ms), close: () => db.close() };
}

/** The in-memory FIFO a skeptic writes: an array of batches; lease shifts one into a map, ack deletes it. */
function memoryBaseline(): Baseline {
  const fifo: DataPoint[][] = [];
  const leased = new Map<number, DataPoint[]>();
  let leases = 0;
  const round = (batch: number) => {
    fifo.push(makeItems(batch).map((i) => i.point));
    const points = fifo.shift();
    if (!points || points.length !== batch) throw new Error('baseline lost a batch');
    const id = ++leases;
    leased.set(id, points);
    leased.delete(id);
  };
  return { slice: (batch, ms) => timed(round, batch, ms), close: () => undefined };
}

/**
 * Runs the queue and the baseline in alternating slices (the machine is shared and noisy, so both
 * see the same load); returns each side's slice rates.
 */
async function compare(q: DurableQueue, base: Baseline, batch: number): Promise<[number[], number[]]> {
  const ms = CASE_MS / SLICES;
  await queueSlice(q, batch, 50);
  base.slice(batch, 50);
  const s = await alternate(SLICES, { ours: () => queueSlice(q, batch, ms), baseline: () => base.slice(batch, ms) });
  base.close();
  return [s.ours, s.baseline];
}

const cases: BenchCase[] = [];

function record(name: string, ours: number[], baseline: number[], note: string, rss = rssMb()): void {
  const c = compareRounds(name, ours, baseline, { rss_mb: rss, note: `${note}; ${machineLoad()}` });
  cases.push(c);
  console.log(`${name}: ${c.points_per_s} vs ${c.baseline_points_per_s} points/s = ${c.ratio}x`);
}

async function throughputCases(): Promise<void> {
  for (const batch of BATCHES) {
    const q = createMemoryQueue();
    record(
      `memory batch=${batch}`,
      ...(await compare(q, memoryBaseline(), batch)),
      'baseline: in-memory FIFO of batches (array + lease map)',
    );
    await q.close();
  }
  for (const sync of ['always', 'batch', 'interval'] as SyncMode[]) {
    for (const batch of BATCHES) {
      const q = await openSqliteQueue(join(work, `queue-${sync}-${batch}.db`), { sync });
      record(
        `sqlite sync=${sync}${sync === 'batch' ? ' (default)' : ''} batch=${batch}`,
        ...(await compare(q, openBaseline(SYNC_PRAGMA[sync]), batch)),
        `baseline: chunked FIFO on raw node:sqlite (one row per batch), synchronous=${SYNC_PRAGMA[sync]}`,
      );
      await q.close();
    }
  }
  const compressed = await openSqliteQueue(join(work, 'queue-compressed.db'), { sync: 'batch', compression: true });
  record(
    'sqlite sync=batch batch=1000 compressed',
    ...(await compare(compressed, openBaseline('NORMAL'), 1000)),
    'deflate-raw level 1 chunk payloads; baseline: chunked FIFO, uncompressed JSON',
  );
  await compressed.close();
}

/** One slice of group commit: 64 concurrent single-point producers against one consumer leasing up to 1000. */
async function groupCommitSlice(q: DurableQueue, ms: number): Promise<number> {
  let points = 0;
  let stop = false;
  const producers = Array.from({ length: 64 }, async () => {
    while (!stop) await q.enqueue(makeItems(1));
  });
  const start = performance.now();
  while (performance.now() - start < ms) {
    const lease = await q.lease('cloud', 1000);
    if (lease) {
      await q.settle(lease, { acked: 'all' });
      points += lease.points.length;
    } else await new Promise((r) => setImmediate(r));
  }
  const rate = points / ((performance.now() - start) / 1000);
  stop = true;
  await Promise.all(producers);
  for (let l = await q.lease('cloud', 1000); l; l = await q.lease('cloud', 1000)) await q.settle(l, { acked: 'all' });
  return rate;
}

/** Group commit against the chunked FIFO fed one point per call (a simple design cannot group callers). */
async function groupCommitCase(): Promise<void> {
  const q = await openSqliteQueue(join(work, 'queue-group.db'), { sync: 'batch' });
  const base = openBaseline('NORMAL');
  const ms = CASE_MS / SLICES;
  const s = await alternate(SLICES, { ours: () => groupCommitSlice(q, ms), baseline: () => base.slice(1, ms) });
  base.close();
  record(
    'sqlite sync=batch batch=1 x64 producers',
    s.ours,
    s.baseline,
    'single-point enqueue calls, group-committed; baseline: chunked FIFO, one row and transaction per call',
  );
  await q.close();
}

/** The chunked FIFO with a BACKLOG-point backlog: fill with 1000-point rows, then drain (oldest row, parse, delete). */
function naiveBacklog(): { fill: number; drain: number } {
  const { db, insert, oldest, remove } = chunkedFifo('naive-backlog.db', 'NORMAL');
  let start = performance.now();
  for (let b = 0; b < BACKLOG / 1000; b++) insert.run('cloud', 0, JSON.stringify(makeItems(1000).map((i) => i.point)));
  const fill = BACKLOG / ((performance.now() - start) / 1000);
  start = performance.now();
  let drained = 0;
  for (let row = oldest.get('cloud'); row; row = oldest.get('cloud')) {
    const { id, payload } = row as { id: number; payload: string };
    drained += (JSON.parse(payload) as unknown[]).length;
    remove.run(id);
  }
  const drain = drained / ((performance.now() - start) / 1000);
  db.close();
  return { fill, drain };
}

/**
 * RSS from an empty queue to a BACKLOG-point backlog, open time with it versus an empty file, and
 * draining it, beside the naive FIFO doing the same.
 */
async function backlogCase(): Promise<void> {
  const file = join(work, 'backlog.db');
  let q = await openSqliteQueue(file, { sync: 'batch' });
  // Warm up with the same traffic first (fill 20% of the backlog, drain it): V8 sizes its heap to
  // the allocation rate, which raises RSS whatever the backlog; the backlog must not add to that.
  for (let i = 0; i < BACKLOG / 5000; i++) await q.enqueue(makeItems(1000));
  for (let l = await q.lease('cloud', 1000); l; l = await q.lease('cloud', 1000)) await q.settle(l, { acked: 'all' });
  // No forced GC before either reading: a full GC shrinks the heap below what steady traffic keeps.
  const rssEmpty = rssMb();
  const heapEmpty = heapMb();
  const start = performance.now();
  for (let i = 0; i < BACKLOG / 1000; i++) await q.enqueue(makeItems(1000));
  const fillRate = BACKLOG / ((performance.now() - start) / 1000);
  const rssFull = rssMb();
  const heapFull = heapMb();
  if (q.stats('cloud').points !== BACKLOG) throw new Error('backlog not queued');
  // The files as a kill -9 would leave them (nothing is written between commits).
  const crashed = join(work, 'crashed.db');
  for (const suffix of ['', '-wal']) if (existsSync(file + suffix)) copyFileSync(file + suffix, crashed + suffix);
  await q.close();

  const emptyFile = join(work, 'empty.db');
  await (await openSqliteQueue(emptyFile, {})).close();
  const t0 = performance.now();
  const e = await openSqliteQueue(emptyFile, {});
  const openEmptyMs = performance.now() - t0;
  await e.close();
  const t1 = performance.now();
  q = await openSqliteQueue(file, { sync: 'batch' });
  const openFullMs = performance.now() - t1;
  if (q.stats('cloud').points !== BACKLOG) throw new Error('backlog not found after reopening');
  const t2 = performance.now();
  const afterCrash = await openSqliteQueue(crashed, { sync: 'batch' });
  const openCrashedMs = performance.now() - t2;
  if (afterCrash.stats('cloud').points !== BACKLOG) throw new Error('backlog not recounted after the crash');
  await afterCrash.close();
  const drainStart = performance.now();
  let drained = 0;
  for (let l = await q.lease('cloud', 1000); l; l = await q.lease('cloud', 1000)) {
    await q.settle(l, { acked: 'all' });
    drained += l.points.length;
  }
  const drainRate = drained / ((performance.now() - drainStart) / 1000);
  await q.close();
  if (drained !== BACKLOG) throw new Error(`drained ${drained} of ${BACKLOG}`);
  const naive = naiveBacklog();
  record(
    `sqlite sync=batch batch=1000 fill to backlog=${BACKLOG} (one run)`,
    [fillRate],
    [naive.fill],
    `enqueue only; RSS empty (after warm-up) ${rssEmpty} MB -> with backlog ${rssFull} MB (${(((rssFull - rssEmpty) / rssEmpty) * 100).toFixed(1)}%), JS heap used ${heapEmpty} -> ${heapFull} MB`,
    rssFull,
  );
  record(
    `sqlite sync=batch batch=1000 drain backlog=${BACKLOG} (one run)`,
    [drainRate],
    [naive.drain],
    `lease+ack from stored chunks vs select+parse+delete of chunk rows; open: empty file ${openEmptyMs.toFixed(1)} ms, with the backlog ${openFullMs.toFixed(1)} ms after a clean close, ${openCrashedMs.toFixed(1)} ms after kill -9 (WAL recovery, whole-file quick_check, lane totals recounted)`,
  );
}

try {
  console.log(`throughput (enqueue + lease + ack), ${CASE_MS} ms per case in ${SLICES} alternating slices`);
  await throughputCases();
  await groupCommitCase();
  await backlogCase();
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeResults('core', cases);
