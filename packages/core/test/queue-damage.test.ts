// Damage to the queue file: bytes flipped at random offsets and the file truncated at random
// lengths (seeded; replay one seed with BIFROST_TEST_SEED), a missing or emptied file, a lost WAL.
// Oracle: the chunk rows of the undamaged file, compared byte for byte with what SQLite can still
// read of the damaged one. Nothing readable may be lost, nothing altered delivered, nothing stall.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, vi } from 'vitest';
import type { DataPoint } from '../src/data-point.js';
import { seededRandom, type Random } from '../src/random.js';
import { isRemoved } from '../src/queue/removed-bitmap.js';
import { openSqliteQueue, type QueueLogger } from '../src/queue/sqlite-queue.js';
import { decodePayload } from '../src/queue/sqlite-store.js';
import type { DurableQueue } from '../src/queue/types.js';
import { items } from './queue.suite.js';

const CONNECTORS = ['a', 'b'];
const SEEDS = process.env.BIFROST_TEST_SEED ? [Number(process.env.BIFROST_TEST_SEED)] : range(1, 100);

interface Row {
  seq: number;
  connector: string;
  priority: number;
  enqueued_at: number;
  codec: number;
  payload: Uint8Array;
  sizes: Uint8Array;
  crc: number;
}

interface Original {
  dir: string;
  file: string;
  rows: Map<number, Row>;
  /** Per chunk, its points not acked before the damage. */
  queued: Map<number, DataPoint[]>;
  byId: Map<string, DataPoint>;
  /** Every point ever queued, acked ones too (a damaged state row delivers those again). */
  everyPoint: Map<string, DataPoint>;
  total: number;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const silent = (): QueueLogger & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, info: (_o, m) => lines.push(m), error: (_o, m) => lines.push(m) };
};

/** A queue file with two lanes, some points acked (so there are state rows), closed cleanly. */
async function buildOriginal(): Promise<Original> {
  // The same bytes on every run, so that a seed replays exactly.
  vi.useFakeTimers({ toFake: ['Date'], now: 1_800_000_000_000 });
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-damage-'));
  const file = join(dir, 'queue.db');
  const q = await openSqliteQueue(file, { logger: silent(), reserveBytes: 0, memoryCacheBytes: 0 });
  for (let i = 0; i < 60; i++) {
    await q.enqueue(items('a', 40));
    await q.enqueue(items('b', 25, 3));
  }
  // Ack part of lane a (two leases: some chunks end up half acked).
  for (const n of [330, 45]) {
    const lease = (await q.lease('a', n))!;
    await q.settle(lease, { acked: 'all' });
  }
  await q.close();
  vi.useRealTimers();
  const db = new DatabaseSync(file, { readOnly: true });
  const rows = new Map<number, Row>();
  const queued = new Map<number, DataPoint[]>();
  const byId = new Map<string, DataPoint>();
  const everyPoint = new Map<string, DataPoint>();
  let total = 0;
  for (const r of db
    .prepare('SELECT seq, connector, priority, enqueued_at, codec, payload, sizes, crc FROM chunks')
    .all() as unknown as Row[]) {
    rows.set(r.seq, r);
    const state = db.prepare('SELECT removed FROM chunk_state WHERE seq = ?').get(r.seq) as
      { removed: Uint8Array } | undefined;
    const all = decodePayload(r.codec, r.payload);
    for (const p of all) everyPoint.set(p.id, p);
    const points = all.filter((_, i) => !state || !isRemoved(state.removed, i));
    for (const p of points) byId.set(p.id, p);
    queued.set(r.seq, points);
    total += points.length;
  }
  db.close();
  return { dir, file, rows, queued, byId, everyPoint, total };
}

/** A fresh copy of the original file (and its marker) in its own directory. */
function copyOf(o: Original): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-damage-'));
  const file = join(dir, 'queue.db');
  copyFileSync(o.file, file);
  copyFileSync(`${o.file}.marker`, `${file}.marker`);
  return { dir, file };
}

/** Seqs whose chunk row SQLite can still read whole, byte for byte as it was (read from a copy). */
function intactChunks(o: Original, file: string): Set<number> {
  const probe = `${file}.oracle`;
  copyFileSync(file, probe);
  const intact = new Set<number>();
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(probe, { readOnly: true });
    // A row counts as readable when every column of it can be read, its checksum too.
    const read = db.prepare(
      'SELECT seq, connector, priority, enqueued_at, codec, payload, sizes, crc FROM chunks WHERE seq = ?',
    );
    for (const [seq, want] of o.rows) {
      try {
        const got = read.get(seq) as Row | undefined;
        if (got && sameRow(got, want)) intact.add(seq);
      } catch {
        // unreadable
      }
    }
  } catch {
    // not a database any more
  } finally {
    db?.close();
    rmSync(probe, { force: true });
  }
  return intact;
}

function sameRow(a: Row, b: Row): boolean {
  return (
    a.connector === b.connector &&
    a.priority === b.priority &&
    a.enqueued_at === b.enqueued_at &&
    a.codec === b.codec &&
    a.crc === b.crc &&
    Buffer.compare(a.payload, b.payload) === 0 &&
    Buffer.compare(a.sizes, b.sizes) === 0
  );
}

/** Leases and acks everything the queue hands out; throws if it does not run dry in a bounded number of leases. */
async function drain(q: DurableQueue): Promise<DataPoint[]> {
  const delivered: DataPoint[] = [];
  for (const c of CONNECTORS) {
    for (let i = 0; ; i++) {
      if (i > 200) throw new Error(`lane ${c} did not run dry: the queue stalls`);
      const lease = await q.lease(c, 500);
      if (!lease) break;
      delivered.push(...lease.points);
      await q.settle(lease, { acked: 'all' });
    }
  }
  return delivered;
}

/** Opens the damaged copy, delivers everything and checks the three promises. */
/** Which ways of handling damage the seeds went through (checked once they all ran). */
const paths = { salvagedAtOpen: 0, salvagedWhileRunning: 0, quarantined: 0, stateDropped: 0 };

async function deliverAndCheck(o: Original, file: string, intact: Set<number>, label: string): Promise<void> {
  const logger = silent();
  const q = await openSqliteQueue(file, { logger, reserveBytes: 0, memoryCacheBytes: 0 });
  let delivered: DataPoint[];
  try {
    const salvagesAtOpen = q.integrity().incidents.filter((i) => i.kind === 'salvage').length;
    delivered = await drain(q);
    const incidents = q.integrity().incidents;
    paths.salvagedAtOpen += salvagesAtOpen;
    paths.salvagedWhileRunning += incidents.filter((i) => i.kind === 'salvage').length - salvagesAtOpen;
    paths.quarantined += incidents.filter((i) => i.kind === 'quarantine').length;
    paths.stateDropped += incidents.filter((i) => i.kind === 'state').length;
    // Nothing altered is delivered: every point is one that was queued, field for field (an acked
    // one may come again when its chunk's state was damaged: at-least-once).
    for (const p of delivered) expect(p, `${label}: delivered point ${p.id}`).toEqual(o.everyPoint.get(p.id));
    // Nothing readable is lost.
    const got = new Set(delivered.map((p) => p.id));
    const missing: string[] = [];
    for (const seq of intact) for (const p of o.queued.get(seq) ?? []) if (!got.has(p.id)) missing.push(p.id);
    expect(missing, `${label}: points of readable chunks not delivered`).toEqual([]);
    // Nothing lost goes unnoticed.
    const lostSome = [...o.byId.keys()].some((id) => !got.has(id));
    if (lostSome) {
      expect(q.integrity().incidents.length + logger.lines.length, `${label}: points lost silently`).toBeGreaterThan(0);
      expect(q.health().degraded, label).toBeDefined();
    }
    for (const c of CONNECTORS) expect(q.stats(c).inFlight, label).toBe(0);
  } finally {
    await q.close();
  }
  // And it opens again, empty of what was delivered.
  const again = await openSqliteQueue(file, { logger: silent(), reserveBytes: 0 });
  try {
    expect(await drain(again), `${label}: delivered again after acks`).toEqual([]);
  } finally {
    await again.close();
  }
}

function flip(file: string, r: Random, count: number): string[] {
  const bytes = readFileSync(file);
  const done: string[] = [];
  for (let k = 0; k < count; k++) {
    const at = Math.floor(r() * bytes.length);
    const mask = 1 + Math.floor(r() * 255);
    bytes[at]! ^= mask;
    done.push(`${at}^${mask}`);
  }
  writeFileSync(file, bytes);
  return done;
}

/** Marks the copy as not closed cleanly (in the file and its marker): its next open checks the whole file. */
function markCrashed(file: string): void {
  const db = new DatabaseSync(file);
  db.exec("UPDATE meta SET value = '0' WHERE key = 'clean_close'");
  db.close();
  const marker = JSON.parse(readFileSync(`${file}.marker`, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${file}.marker`, JSON.stringify({ ...marker, cleanClose: false }));
}

describe('a damaged queue file', () => {
  let o: Original;
  const dirs: string[] = [];
  beforeAll(async () => {
    o = await buildOriginal();
    dirs.push(o.dir);
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('has a queue to damage', () => {
    expect(o.total).toBe(60 * 40 + 60 * 25 - 375);
    expect(o.rows.size).toBeGreaterThan(100);
  });

  it.each(SEEDS)(
    'bytes flipped at random offsets (seed %i): nothing readable lost, nothing altered delivered, no stall',
    async (seed) => {
      const r = seededRandom(seed);
      const { dir, file } = copyOf(o);
      dirs.push(dir);
      // Odd seeds: as after a crash (the whole file is checked at open); even: after a clean close.
      if (seed % 2) markCrashed(file);
      const flips = flip(file, r, 1 + Math.floor(r() * 20));
      const label = `seed ${seed}, flips ${flips.join(' ')}`;
      onTestFailed(() => console.error(`[queue-damage] ${label} (replay with BIFROST_TEST_SEED=${seed})`));
      await deliverAndCheck(o, file, intactChunks(o, file), label);
    },
  );

  it.runIf(SEEDS.length === 100)('the seeds went through every way of handling damage', () => {
    console.log(`[queue-damage] over 100 seeds: ${JSON.stringify(paths)}`);
    expect(paths.salvagedAtOpen).toBeGreaterThan(0);
    expect(paths.salvagedWhileRunning).toBeGreaterThan(0);
    expect(paths.quarantined).toBeGreaterThan(0);
  });

  it.each(SEEDS.filter((s) => s % 4 === 0))(
    'truncated at a random length (seed %i): salvaged, never silent',
    async (seed) => {
      const r = seededRandom(seed);
      const { dir, file } = copyOf(o);
      dirs.push(dir);
      const size = statSync(file).size;
      const length = Math.floor(r() * size);
      truncateSync(file, length);
      const label = `seed ${seed}, truncated to ${length} of ${size} bytes`;
      onTestFailed(() => console.error(`[queue-damage] ${label} (replay with BIFROST_TEST_SEED=${seed})`));
      const intact = intactChunks(o, file);
      const q = await openSqliteQueue(file, { logger: silent(), reserveBytes: 0 });
      try {
        expect(
          q.integrity().incidents.map((i) => i.kind),
          label,
        ).toContain(length === 0 ? 'missing' : 'salvage');
      } finally {
        await q.close();
      }
      await deliverAndCheck(o, file, intact, label);
    },
  );
});

describe('a queue file that is not where it was', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const queueWith = async (points: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'bifrost-missing-'));
    dirs.push(dir);
    const file = join(dir, 'queue.db');
    const q = await openSqliteQueue(file, { logger: silent(), reserveBytes: 0 });
    await q.enqueue(items('a', points));
    return { file, q };
  };

  it.each(['deleted', 'emptied'])(
    'a %s file is reported with the points its marker counted, until acknowledged',
    async (how) => {
      const { file, q } = await queueWith(70);
      await q.close();
      if (how === 'deleted') rmSync(file);
      else writeFileSync(file, '');
      const logger = silent();
      const reopened = await openSqliteQueue(file, { logger, reserveBytes: 0 });
      try {
        expect(logger.lines).toEqual([expect.stringMatching(/although a queue was expected there .*counts 70 points/)]);
        expect(reopened.integrity()).toMatchObject({ lost: 70, incidents: [{ kind: 'missing', lost: 70 }] });
        expect(reopened.health().degraded).toMatch(/expected there/);
        await reopened.acknowledgeIntegrity();
        expect(reopened.health()).toEqual({ ok: true });
      } finally {
        await reopened.close();
      }
    },
  );

  it('a write-ahead log lost after a crash is reported', async () => {
    const { file, q } = await queueWith(10);
    // As after kill -9: the file and its marker as they are while the queue runs, without the log.
    const copy = join(mkdtempSync(join(tmpdir(), 'bifrost-missing-')), 'queue.db');
    dirs.push(join(copy, '..'));
    copyFileSync(file, copy);
    copyFileSync(`${file}.marker`, `${copy}.marker`);
    await q.close();
    const logger = silent();
    const reopened = await openSqliteQueue(copy, { logger, reserveBytes: 0 });
    try {
      expect(reopened.integrity().incidents).toMatchObject([{ kind: 'wal', lost: null }]);
      expect(logger.lines).toEqual([expect.stringMatching(/write-ahead log .* is missing/)]);
    } finally {
      await reopened.close();
    }
  });

  it('a file shorter than at its last clean close is salvaged, not trusted', async () => {
    const { file, q } = await queueWith(2000);
    await q.close();
    truncateSync(file, statSync(file).size - 4096);
    const logger = silent();
    const reopened = await openSqliteQueue(file, { logger, reserveBytes: 0 });
    try {
      expect(logger.lines[0]).toMatch(/truncated.*salvaged into a new file/);
      const [incident] = reopened.integrity().incidents;
      expect(incident).toMatchObject({ kind: 'salvage' });
      expect(incident!.recovered! + incident!.lost!).toBe(2000);
    } finally {
      await reopened.close();
    }
  });
});

describe('a queue file whose header was overwritten', () => {
  it('is read through a rebuilt header: its points are recovered, not thrown away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bifrost-header-'));
    try {
      const file = join(dir, 'queue.db');
      const q = await openSqliteQueue(file, { logger: silent(), reserveBytes: 0 });
      for (let i = 0; i < 20; i++) await q.enqueue(items('a', 100));
      await q.close();
      const bytes = readFileSync(file);
      bytes.fill(0xff, 0, 100);
      writeFileSync(file, bytes);
      const logger = silent();
      const reopened = await openSqliteQueue(file, { logger, reserveBytes: 0 });
      try {
        expect(logger.lines[0]).toMatch(/header was unreadable and was rebuilt.*2000 points recovered/);
        expect(reopened.stats('a').points).toBe(2000);
        expect(reopened.integrity().incidents).toMatchObject([{ kind: 'salvage', recovered: 2000, lost: 0 }]);
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
