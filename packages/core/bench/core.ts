// `pnpm bench core`: enqueue + lease + ack throughput of the memory and SQLite queues in each sync
// mode with batches of 1, 100 and 1000, beside the naive durable FIFO on raw node:sqlite in the same
// run; then RSS from an empty queue to a 1M-point backlog and open time with that backlog.
// Bounded: every case runs for about a second, the whole bench well under two minutes.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createMemoryQueue, openSqliteQueue } from '../dist/host.js';
import type { DurableQueue, EnqueueItem, SyncMode } from '../dist/host.js';
import { benchPoint } from './_points.ts';

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

/**
 * The naive durable FIFO: one row per point inserted in a transaction of `batch` rows, deleted by
 * primary-key range in a second transaction; WAL, default page size, the given synchronous level.
 */
function openBaseline(sync: string): { slice: (batch: number, ms: number) => number; close: () => void } {
  const db = new DatabaseSync(join(work, `baseline-${++baselineRuns}.db`));
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${sync};
    CREATE TABLE points (id INTEGER PRIMARY KEY, connector TEXT NOT NULL, priority INTEGER NOT NULL, payload TEXT NOT NULL);`);
  const insert = db.prepare('INSERT INTO points (connector, priority, payload) VALUES (?, ?, ?)');
  const remove = db.prepare('DELETE FROM points WHERE id >= ? AND id <= ?');
  const round = (batch: number) => {
    const items = makeItems(batch);
    db.exec('BEGIN');
    let first = 0;
    let last = 0;
    for (const [i, item] of items.entries()) {
      last = Number(insert.run(item.connector, item.priority, JSON.stringify(item.point)).lastInsertRowid);
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

function median(a: readonly number[]): number {
  const m = [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  if (m === undefined) throw new Error('median of no samples');
  return m;
}

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

interface Case {
  case: string;
  points_per_s: number;
  baseline_points_per_s: number;
  ratio: number;
  rss_mb: number;
}
const cases: Case[] = [];

function record(name: string, rate: number, baseline: number, note?: string, rss = rssMb()): void {
  const c: Case = {
    case: name,
    points_per_s: Math.round(rate),
    baseline_points_per_s: Math.round(baseline),
    ratio: Math.round((rate / baseline) * 100) / 100,
    rss_mb: rss,
  };
  cases.push(c);
  console.log(
    `${name.padEnd(50)} ${String(c.points_per_s).padStart(9)} pts/s   baseline ${String(c.baseline_points_per_s).padStart(9)} pts/s   ratio ${c.ratio.toFixed(2).padStart(5)}   rss ${c.rss_mb} MB${note ? `   (${note})` : ''}`,
  );
}

async function throughputCases(): Promise<void> {
  for (const batch of BATCHES) {
    const q = createMemoryQueue();
    record(
      `memory batch=${batch}`,
      ...(await compare(q, 'NORMAL', batch)),
      'baseline: raw node:sqlite, synchronous=NORMAL',
    );
    await q.close();
  }
  for (const sync of ['always', 'batch', 'interval'] as SyncMode[]) {
    for (const batch of BATCHES) {
      const q = await openSqliteQueue(join(work, `queue-${sync}-${batch}.db`), { sync });
      record(
        `sqlite sync=${sync} batch=${batch}`,
        ...(await compare(q, SYNC_PRAGMA[sync], batch)),
        `baseline: raw node:sqlite, synchronous=${SYNC_PRAGMA[sync]}`,
      );
      await q.close();
    }
  }
  const compressed = await openSqliteQueue(join(work, 'queue-compressed.db'), { sync: 'batch', compression: true });
  record(
    'sqlite sync=batch batch=1000 compressed',
    ...(await compare(compressed, 'NORMAL', 1000)),
    'deflate-raw level 1 chunk payloads',
  );
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
    if (lease) {
      await q.settle(lease, { acked: 'all' });
      points += lease.points.length;
    } else await new Promise((r) => setImmediate(r));
  }
  const rate = points / ((performance.now() - start) / 1000);
  stop = true;
  await Promise.all(producers);
  record(
    'sqlite sync=batch batch=1 x64 producers',
    rate,
    baseline,
    'single-point enqueue calls, group-committed; baseline: one row per transaction',
  );
  await q.close();
}

/** The naive FIFO with a BACKLOG-row backlog: fill in transactions of 1000, then drain (select, parse, delete range). */
function naiveBacklog(): { fill: number; drain: number } {
  const db = new DatabaseSync(join(work, 'naive-backlog.db'));
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
    CREATE TABLE points (id INTEGER PRIMARY KEY, connector TEXT NOT NULL, priority INTEGER NOT NULL, payload TEXT NOT NULL);`);
  const insert = db.prepare('INSERT INTO points (connector, priority, payload) VALUES (?, ?, ?)');
  const select = db.prepare('SELECT id, payload FROM points WHERE connector = ? ORDER BY id LIMIT 1000');
  const remove = db.prepare('DELETE FROM points WHERE id >= ? AND id <= ?');
  let start = performance.now();
  for (let b = 0; b < BACKLOG / 1000; b++) {
    const items = makeItems(1000);
    db.exec('BEGIN');
    for (const it of items) insert.run(it.connector, it.priority, JSON.stringify(it.point));
    db.exec('COMMIT');
  }
  const fill = BACKLOG / ((performance.now() - start) / 1000);
  start = performance.now();
  let drained = 0;
  for (;;) {
    const rows = select.all('cloud') as Array<{ id: number; payload: string }>;
    const first = rows[0];
    const last = rows.at(-1);
    if (!first || !last) break;
    for (const r of rows) JSON.parse(r.payload);
    db.exec('BEGIN');
    remove.run(first.id, last.id);
    db.exec('COMMIT');
    drained += rows.length;
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
    `sqlite sync=batch batch=1000 fill to backlog=${BACKLOG}`,
    fillRate,
    naive.fill,
    `enqueue only; RSS empty (after warm-up) ${rssEmpty} MB -> with backlog ${rssFull} MB (${(((rssFull - rssEmpty) / rssEmpty) * 100).toFixed(1)}%), JS heap used ${heapEmpty} -> ${heapFull} MB`,
    rssFull,
  );
  record(
    `sqlite sync=batch batch=1000 drain backlog=${BACKLOG}`,
    drainRate,
    naive.drain,
    'lease+ack from stored chunks vs select+parse+delete of rows',
  );
  console.log(
    `open: empty file ${openEmptyMs.toFixed(1)} ms, with ${BACKLOG}-point backlog ${openFullMs.toFixed(1)} ms after a clean close, ${openCrashedMs.toFixed(1)} ms after kill -9 (WAL recovery, whole-file quick_check, lane totals recounted)`,
  );
}

try {
  console.log(`case${' '.repeat(46)} throughput (enqueue + lease + ack), ${CASE_MS} ms per case`);
  await throughputCases();
  await groupCommitCase();
  await backlogCase();
} finally {
  rmSync(work, { recursive: true, force: true });
}
const outDir = process.env.BIFROST_BENCH_RESULTS ?? join(process.cwd(), 'bench/results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'core.json'), `${JSON.stringify({ name: 'core', cases }, null, 2)}\n`);
console.log(`\nwrote ${join(outDir, 'core.json')}`);
