// `pnpm bench core`: enqueue + lease + ack throughput of the memory and SQLite queues in each sync
// mode with batches of 1, 100 and 1000, beside the naive durable FIFO on raw node:sqlite in the same
// run; then RSS from an empty queue to a 1M-point backlog and open time with that backlog.
// Bounded: every case runs for about a second, the whole bench well under two minutes.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createMemoryQueue, openSqliteQueue } from '../dist/index.js';
import type { DataPoint, DurableQueue, EnqueueItem, SyncMode } from '../dist/index.js';

const CASE_MS = Number(process.env.BIFROST_BENCH_CASE_MS ?? 1000);
const BACKLOG = Number(process.env.BIFROST_BENCH_BACKLOG ?? 1_000_000);
const BATCHES = [1, 100, 1000];
const SYNC_PRAGMA: Record<SyncMode, string> = { always: 'FULL', batch: 'NORMAL', interval: 'OFF' };

const work = mkdtempSync(join(tmpdir(), 'bifrost-bench-core-'));
let serial = 0;

function makePoint(): DataPoint {
  const n = serial++;
  return {
    id: `0190f3a2-7c1d-7000-8000-${n.toString(16).padStart(12, '0')}`,
    deviceId: `PLC${String(n % 50).padStart(3, '0')}`,
    tagName: 'temperature',
    value: 20 + (n % 1000) / 100,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000 + n,
    unit: 'C',
  };
}

function makeItems(n: number): EnqueueItem[] {
  const out: EnqueueItem[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { connector: 'cloud', priority: 0, point: makePoint() };
  return out;
}

const rssMb = () => Math.round((process.memoryUsage().rss / 1048576) * 10) / 10;
const gc = () => (globalThis as { gc?: () => void }).gc?.();

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

/**
 * The naive durable FIFO: one row per point inserted in a transaction of `batch` rows, deleted by
 * primary-key range in a second transaction; WAL, default page size, the given synchronous level.
 */
function openBaseline(sync: string): { slice: (batch: number, ms: number) => number; close: () => void } {
  const db = new DatabaseSync(join(work, `baseline-${serial}.db`));
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${sync};
    CREATE TABLE points (id INTEGER PRIMARY KEY, connector TEXT NOT NULL, priority INTEGER NOT NULL, payload TEXT NOT NULL);`);
  const insert = db.prepare('INSERT INTO points (connector, priority, payload) VALUES (?, ?, ?)');
  const remove = db.prepare('DELETE FROM points WHERE id >= ? AND id <= ?');
  const round = (batch: number) => {
    const items = makeItems(batch);
    db.exec('BEGIN');
    let first = 0;
    let last = 0;
    for (let i = 0; i < batch; i++) {
      last = Number(insert.run(items[i].connector, items[i].priority, JSON.stringify(items[i].point)).lastInsertRowid);
      if (i === 0) first = last;
    }
    db.exec('COMMIT');
    db.exec('BEGIN');
    remove.run(first, last);
    db.exec('COMMIT');
  };
  return {
    slice(batch, ms) {
      let points = 0;
      const start = performance.now();
      while (performance.now() - start < ms) {
        round(batch);
        points += batch;
      }
      return points / ((performance.now() - start) / 1000);
    },
    close: () => db.close(),
  };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/**
 * Runs the queue and the baseline in alternating slices (the machine is shared and noisy, so both
 * see the same load) and returns the median rate of each.
 */
async function compare(q: DurableQueue, sync: string, batch: number): Promise<[number, number]> {
  const base = openBaseline(sync);
  const ms = CASE_MS / SLICES;
  await queueSlice(q, batch, 50);
  base.slice(batch, 50);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < SLICES; i++) {
    ours.push(await queueSlice(q, batch, ms));
    theirs.push(base.slice(batch, ms));
  }
  base.close();
  return [median(ours), median(theirs)];
}

interface Case { case: string; points_per_s: number; baseline_points_per_s: number; ratio: number; rss_mb: number; note?: string }
const cases: Case[] = [];

function record(name: string, rate: number, baseline: number, note?: string): void {
  const c: Case = { case: name, points_per_s: Math.round(rate), baseline_points_per_s: Math.round(baseline), ratio: Math.round((rate / baseline) * 100) / 100, rss_mb: rssMb() };
  if (note) c.note = note;
  cases.push(c);
  console.log(`${name.padEnd(44)} ${String(c.points_per_s).padStart(9)} pts/s   baseline ${String(c.baseline_points_per_s).padStart(9)} pts/s   ratio ${c.ratio.toFixed(2).padStart(5)}   rss ${c.rss_mb} MB`);
}

async function throughputCases(): Promise<void> {
  for (const batch of BATCHES) {
    const q = createMemoryQueue();
    record(`memory batch=${batch}`, ...(await compare(q, 'NORMAL', batch)), 'baseline: raw node:sqlite, synchronous=NORMAL');
    await q.close();
  }
  for (const sync of ['always', 'batch', 'interval'] as SyncMode[]) {
    for (const batch of BATCHES) {
      const q = await openSqliteQueue(join(work, `queue-${sync}-${batch}.db`), { sync });
      record(`sqlite sync=${sync} batch=${batch}`, ...(await compare(q, SYNC_PRAGMA[sync], batch)), `baseline: raw node:sqlite, synchronous=${SYNC_PRAGMA[sync]}`);
      await q.close();
    }
  }
  const compressed = await openSqliteQueue(join(work, 'queue-compressed.db'), { sync: 'batch', compression: true });
  record('sqlite sync=batch batch=1000 compressed', ...(await compare(compressed, 'NORMAL', 1000)), 'deflate-raw level 1 chunk payloads');
  await compressed.close();
}

/** Group commit: 64 concurrent single-point producers against one consumer leasing up to 1000. */
async function groupCommitCase(): Promise<void> {
  const q = await openSqliteQueue(join(work, 'queue-group.db'), { sync: 'batch' });
  const base = openBaseline('NORMAL');
  const baseline = base.slice(1, CASE_MS);
  base.close();
  let points = 0;
  let stop = false;
  const producers = Array.from({ length: 64 }, async () => {
    while (!stop) await q.enqueue(makeItems(1));
  });
  const start = performance.now();
  while (performance.now() - start < CASE_MS) {
    const lease = await q.lease('cloud', 1000);
    if (lease) { await q.settle(lease, { acked: 'all' }); points += lease.points.length; } else await new Promise((r) => setImmediate(r));
  }
  const rate = points / ((performance.now() - start) / 1000);
  stop = true;
  await Promise.all(producers);
  record('sqlite sync=batch batch=1 x64 producers', rate, baseline, 'single-point enqueue calls, group-committed; baseline: one row per transaction');
  await q.close();
}

/** RSS from empty to a BACKLOG-point backlog, then open time with it versus an empty file. */
async function backlogCase(): Promise<void> {
  const file = join(work, 'backlog.db');
  gc();
  const rssBefore = rssMb();
  let q = await openSqliteQueue(file, { sync: 'batch' });
  // Warm up with the same traffic on an empty queue first: V8 sizes its young generation to the
  // allocation rate, which raises RSS whatever the backlog; the backlog must not add to that.
  await queueSlice(q, 1000, CASE_MS);
  gc();
  const rssEmpty = rssMb();
  const start = performance.now();
  for (let i = 0; i < BACKLOG / 1000; i++) await q.enqueue(makeItems(1000));
  const fillRate = BACKLOG / ((performance.now() - start) / 1000);
  gc();
  const rssFull = rssMb();
  if (q.stats('cloud').points !== BACKLOG) throw new Error('backlog not queued');
  await q.close();
  const emptyFile = join(work, 'empty.db');
  const t0 = performance.now();
  const e = await openSqliteQueue(emptyFile, {});
  const openEmptyMs = performance.now() - t0;
  await e.close();
  const t1 = performance.now();
  q = await openSqliteQueue(file, { sync: 'batch' });
  const openFullMs = performance.now() - t1;
  const t2 = performance.now();
  const lease = await q.lease('cloud', 1000);
  await q.settle(lease!, { acked: 'all' });
  const firstLeaseMs = performance.now() - t2;
  const drainStart = performance.now();
  let drained = 0;
  while (performance.now() - drainStart < CASE_MS) {
    const l = await q.lease('cloud', 1000);
    if (!l) break;
    await q.settle(l, { acked: 'all' });
    drained += l.points.length;
  }
  const rate = drained / ((performance.now() - drainStart) / 1000);
  await q.close();
  const sizeMb = Math.round(statSync(file).size / 1048576);
  console.log(`\nbacklog ${BACKLOG} points: fill ${Math.round(fillRate)} pts/s, file ${sizeMb} MB`);
  console.log(`RSS: before open ${rssBefore} MB, empty queue after warm-up ${rssEmpty} MB, with backlog ${rssFull} MB (${(((rssFull - rssEmpty) / rssEmpty) * 100).toFixed(1)}%)`);
  console.log(`drain from the stored backlog (lease 1000 + ack): ${Math.round(rate)} pts/s`);
  console.log(`open: empty file ${openEmptyMs.toFixed(1)} ms, with ${BACKLOG}-point backlog ${openFullMs.toFixed(1)} ms; first lease+ack after open ${firstLeaseMs.toFixed(1)} ms`);
  cases.push({
    case: `sqlite sync=batch backlog=${BACKLOG}`,
    points_per_s: Math.round(fillRate),
    baseline_points_per_s: NaN,
    ratio: NaN,
    rss_mb: rssFull,
    note: `fill rate (enqueue only); rss empty ${rssEmpty} MB -> backlog ${rssFull} MB; open empty ${openEmptyMs.toFixed(1)} ms vs backlog ${openFullMs.toFixed(1)} ms; draining the backlog (lease+ack, reads stored chunks) ${Math.round(rate)} pts/s`,
  });
}

try {
  console.log(`case${' '.repeat(40)} throughput (enqueue + lease + ack), ${CASE_MS} ms per case`);
  await throughputCases();
  await groupCommitCase();
  await backlogCase();
} finally {
  rmSync(work, { recursive: true, force: true });
}
const outDir = process.env.BIFROST_BENCH_RESULTS ?? join(process.cwd(), 'bench/results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'core.json'), `${JSON.stringify({ name: 'core', cases }, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 2)}\n`);
console.log(`\nwrote ${join(outDir, 'core.json')}`);
