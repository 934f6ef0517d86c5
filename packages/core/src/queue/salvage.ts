// Salvage: copying whatever SQLite can still read of a damaged queue file, row by row, into a new
// file of the current layout, keeping the damaged one beside it, with counts of what was recovered,
// quarantined and lost. Opening decides when to salvage (sqlite-queue.ts).
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { chunkRowCrc, chunkStateCrc, type ChunkRowColumns } from './chunk-checksum.js';
import { isRemoved } from './removed-bitmap.js';
import { SCHEMA } from './sqlite-schema.js';
import { inScanOrder, scanPastDamage } from './damaged-scan.js';
import { isDamage, isSchemaDamage } from './sqlite-errors.js';
import { decodePayload, LANE_SPAN } from './sqlite-store.js';

/** What a salvage recovered, and what it could not. */
export interface SalvageReport {
  /** The new file. */
  file: string;
  /** Where the damaged file (and its -wal / -shm) now is. */
  movedTo: string;
  /** Why the file was salvaged. */
  reason: string;
  /** Chunks copied with a good checksum (or, for layout-4 rows, decodable) and the points still queued in them. */
  recoveredChunks: number;
  recoveredPoints: number;
  /** Chunks whose row was read but failed its checksum or could not be decoded: kept raw in `quarantine`. */
  quarantinedChunks: number;
  quarantinedPoints: number;
  /** Rows SQLite found but could not read, and rowid ranges it could not walk. */
  unreadableRows: number;
  deadLetters: number;
  /** Points queued before the damage that were not recovered; null when the damage hid how many there were. */
  lostPoints: number | null;
}

/** Keys looked up one by one at each end of a stretch a walk had to skip. */
const GAP_PROBES = 4096;

/** Renames the file and its WAL/SHM companions to `<file>.corrupt-<timestamp>[-wal|-shm]`. */
export function moveAside(path: string): string {
  const target = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  return target;
}

/**
 * Moves the damaged queue file `path` aside and copies what can be read of it into a new file at
 * `path`, row by row: every chunk whose checksum holds (its state too, when that one's holds, else
 * its points count as not yet delivered), the others raw into `quarantine`, dead letters, earlier
 * quarantine rows and incidents. The new file records a `salvage` incident with the counts.
 * `expectedPoints` (from the marker or the old file's own totals) lets the lost points be counted.
 */
export function salvageQueueFile(path: string, reason: string, expectedPoints: number | null): SalvageReport {
  assertNotInUse(path);
  const movedTo = moveAside(path);
  const report: SalvageReport = {
    file: path,
    movedTo,
    reason,
    recoveredChunks: 0,
    recoveredPoints: 0,
    quarantinedChunks: 0,
    quarantinedPoints: 0,
    unreadableRows: 0,
    deadLetters: 0,
    lostPoints: null,
  };
  const target = new DatabaseSync(path);
  try {
    target.exec('PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL;');
    target.exec(SCHEMA);
    target.exec('BEGIN IMMEDIATE');
    let old: DatabaseSync | undefined;
    try {
      old = openReadable(movedTo);
      if (old.location()?.endsWith(REPAIRED)) reason += '; its header was unreadable and was rebuilt in a copy';
    } catch (err) {
      reason += `; nothing could be read (${(err as Error).message})`;
      old = undefined;
    }
    let oldTotal: number | null = null;
    if (old) {
      oldTotal = oldCleanTotal(old);
      // Earlier quarantine rows and incidents first: they keep their ids.
      const steps = [
        () => copyTable(old, target, 'quarantine', report),
        () => copyTable(old, target, 'incidents', report),
        () => copyChunks(old, target, report),
        () => copyDeadLetters(old, target, report),
      ];
      for (const step of steps) {
        try {
          step();
        } catch (err) {
          // A table SQLite cannot even start to read (its schema page or root is damaged).
          if (!isDamage(err) && !isSchemaDamage(err)) throw err;
          report.unreadableRows++;
        }
      }
      old.close();
    }
    const expected = oldTotal ?? expectedPoints;
    rmSync(`${movedTo}${REPAIRED}`, { force: true });
    report.lostPoints =
      expected !== null
        ? Math.max(0, expected - report.recoveredPoints)
        : report.unreadableRows === 0 && old
          ? report.quarantinedPoints
          : null;
    report.reason = reason;
    target
      .prepare('INSERT INTO incidents (time, kind, message, recovered, lost) VALUES (?, ?, ?, ?, ?)')
      .run(Date.now(), 'salvage', salvageMessage(report), report.recoveredPoints, report.lostPoints);
    target.exec("UPDATE meta SET value = '0' WHERE key = 'clean_close'; COMMIT;");
    target.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    target.close();
  }
  return report;
}

/** Suffix of the copy of a damaged file whose header was rebuilt to read it. */
const REPAIRED = '.header-rebuilt';

/**
 * The damaged file opened for reading; when SQLite cannot read even its header (overwritten: "not
 * a database"), a copy with a rebuilt header. Throws when neither can be read.
 */
function openReadable(path: string): DatabaseSync {
  const tryOpen = (file: string) => {
    const db = new DatabaseSync(file);
    try {
      db.exec('PRAGMA query_only=1');
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  };
  try {
    return tryOpen(path);
  } catch (err) {
    if (!isDamage(err)) throw err;
    const copy = `${path}${REPAIRED}`;
    const bytes = readFileSync(path);
    if (bytes.length < 4096) throw err;
    templateHeader().copy(bytes, 0);
    writeFileSync(copy, bytes);
    try {
      return tryOpen(copy);
    } catch {
      rmSync(copy, { force: true });
      throw err;
    }
  }
}

/**
 * The 100-byte header of a new queue file (4 KiB pages, WAL, incremental auto-vacuum, UTF-8), with
 * no page count (SQLite then takes the file's size) and no freelist: enough to read the pages of a
 * file whose own header was overwritten.
 */
function templateHeader(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-header-'));
  try {
    const file = join(dir, 'template.db');
    const db = new DatabaseSync(file);
    db.exec('PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL;');
    db.exec(SCHEMA);
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const header = readFileSync(file).subarray(0, 100);
    header.fill(0, 28, 40);
    return header;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throws when another process (a running gateway) holds the file: it must not be moved from under it. */
function assertNotInUse(path: string): void {
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path);
    db.exec('BEGIN IMMEDIATE; ROLLBACK;');
  } catch (err) {
    if (/locked|busy/i.test(String(err))) throw new Error(`${path} is in use by another process (${String(err)})`);
    // Damage is what a salvage is for.
  } finally {
    if (db?.isOpen) db.close();
  }
}

/** One line saying what a salvage did. */
export function salvageMessage(r: SalvageReport): string {
  return (
    `queue file was damaged (${r.reason}); salvaged into a new file, the damaged one kept as ${r.movedTo}: ` +
    `${r.recoveredPoints} points recovered in ${r.recoveredChunks} chunks, ` +
    `${r.quarantinedPoints} points in ${r.quarantinedChunks} damaged chunks quarantined, ` +
    `${r.unreadableRows} unreadable rows, ${r.lostPoints ?? 'an unknown number of'} points lost`
  );
}

/** Points the old file held at its last clean close (its `lanes` table), or null. */
function oldCleanTotal(old: DatabaseSync): number | null {
  try {
    const clean = old.prepare("SELECT value FROM meta WHERE key = 'clean_close'").get() as
      { value: string } | undefined;
    if (clean?.value !== '1') return null;
    const t = old.prepare('SELECT sum(points) AS n FROM lanes').get() as { n: number | null };
    return t.n ?? 0;
  } catch {
    return null;
  }
}

function hasColumn(db: DatabaseSync, table: string, column: string): boolean {
  try {
    return (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column);
  } catch {
    return false;
  }
}

/**
 * Rowids of `table` in order, read in pages, past the parts SQLite cannot walk (counted as
 * unreadable). A page read fails when any row it reaches is on a damaged page, so after a failure
 * rows are read one at a time up to the damage, and {@link scanPastDamage} finds the first
 * readable row after it.
 */
function* rowids(db: DatabaseSync, table: string, key: string, report: { unreadableRows: number }): Generator<number> {
  let page: StatementSync;
  let one: StatementSync;
  let at: StatementSync;
  try {
    page = db.prepare(`SELECT ${key} AS k FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT 256`);
    one = db.prepare(`SELECT ${key} AS k FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT 1`);
    at = db.prepare(`SELECT ${key} AS k FROM ${table} WHERE ${key} = ?`);
  } catch (err) {
    if (!isDamage(err)) throw err;
    report.unreadableRows++;
    return;
  }
  const MAX = Number.MAX_SAFE_INTEGER;
  const next = (after: number) => inScanOrder(one.all(after) as Array<{ k: number }>, 'k', after, MAX, 1);
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    let rows: Array<{ k: number }>;
    try {
      rows = inScanOrder(page.all(after) as Array<{ k: number }>, 'k', after, MAX, 1);
    } catch (err) {
      if (!isDamage(err)) throw err;
      try {
        rows = next(after);
      } catch (oneErr) {
        if (!isDamage(oneErr)) throw oneErr;
        report.unreadableRows++;
        rows = scanPastDamage(next, after, MAX, 1);
        // Rows a walk cannot reach may still be found by their key (a lane's seqs are
        // consecutive): look up the keys next to both ends of the skipped stretch.
        const resume = rows[0]?.k ?? MAX;
        for (const k of probeGap(at, after, resume)) yield k;
      }
    }
    if (!rows.length) return;
    for (const r of rows) yield r.k;
    after = rows[rows.length - 1]!.k;
  }
}

/** Keys a walk skipped that point lookups find, up to {@link GAP_PROBES} from either end of (from, to). */
function probeGap(at: StatementSync, from: number, to: number): number[] {
  const keys = new Set<number>();
  const look = (k: number) => {
    try {
      if (at.get(k)) keys.add(k);
    } catch (err) {
      if (!isDamage(err)) throw err;
    }
  };
  for (let k = from + 1; k < to && k <= from + GAP_PROBES; k++) look(k);
  for (let k = Math.max(to - GAP_PROBES, from + GAP_PROBES + 1); k < to; k++) look(k);
  return [...keys].sort((a, b) => a - b);
}

interface OldChunkRow extends ChunkRowColumns {
  crc: number | null;
}

function copyChunks(old: DatabaseSync, target: DatabaseSync, report: SalvageReport): void {
  const withCrc = hasColumn(old, 'chunks', 'crc');
  const stateCrc = hasColumn(old, 'chunk_state', 'crc');
  const readRow = old.prepare(
    `SELECT seq, connector, priority, enqueued_at AS enqueuedAt, codec, payload, sizes, ${withCrc ? 'crc' : 'NULL AS crc'} FROM chunks WHERE seq = ?`,
  );
  const readState = prepareStateRead(old, stateCrc);
  const insertChunk = target.prepare(
    'INSERT INTO chunks (seq, connector, priority, enqueued_at, codec, payload, sizes, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertState = target.prepare('INSERT INTO chunk_state (seq, removed, attempts, crc) VALUES (?, ?, ?, ?)');
  const insertQuarantine = target.prepare(
    'INSERT INTO quarantine (seq, connector, priority, points, reason, time, codec, payload, sizes, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const connectors = new Map<number, string>();
  const names = new Set<string>();
  const now = Date.now();
  const readWithoutCrc = withCrc
    ? old.prepare(
        'SELECT seq, connector, priority, enqueued_at AS enqueuedAt, codec, payload, sizes, NULL AS crc FROM chunks WHERE seq = ?',
      )
    : readRow;
  for (const seq of rowids(old, 'chunks', 'seq', report)) {
    let row: OldChunkRow | undefined;
    let unverifiable = false;
    try {
      row = readRow.get(seq) as OldChunkRow | undefined;
    } catch (err) {
      if (!isDamage(err)) throw err;
      // The checksum column may be on an unreadable overflow page while the rest can be read:
      // then the row is kept raw in quarantine, not trusted.
      try {
        row = readWithoutCrc.get(seq) as OldChunkRow | undefined;
        unverifiable = withCrc;
      } catch (again) {
        if (!isDamage(again)) throw again;
        report.unreadableRows++;
        continue;
      }
    }
    if (!row) continue;
    const state = readStateRow(readState, seq);
    const count = countPoints(row.sizes, state?.removed ?? null);
    const id = Math.floor(seq / LANE_SPAN / 10);
    const laneOk =
      typeof row.connector === 'string' &&
      (connectors.get(id) ?? row.connector) === row.connector &&
      (connectors.has(id) || !names.has(row.connector));
    const damage = !laneOk
      ? 'its lane does not match its seq'
      : unverifiable
        ? 'its checksum cannot be read'
        : chunkDamage(row);
    if (damage) {
      insertQuarantine.run(
        seq,
        typeof row.connector === 'string' ? row.connector : null,
        Number.isInteger(row.priority) ? row.priority : null,
        count?.points ?? null,
        damage,
        now,
        row.codec,
        row.payload,
        row.sizes,
        state?.removed ?? null,
      );
      report.quarantinedChunks++;
      report.quarantinedPoints += count?.points ?? 0;
      continue;
    }
    connectors.set(id, row.connector);
    names.add(row.connector);
    insertChunk.run(
      seq,
      row.connector,
      row.priority,
      row.enqueuedAt,
      row.codec,
      row.payload,
      row.sizes,
      chunkRowCrc(row),
    );
    const n = row.sizes.byteLength / 4;
    if (state && state.removed.byteLength === (n + 7) >> 3) {
      insertState.run(seq, state.removed, state.attempts, chunkStateCrc(state.removed, state.attempts));
    }
    report.recoveredChunks++;
    report.recoveredPoints += countPoints(row.sizes, state?.removed ?? null)?.points ?? 0;
  }
  const insertConnector = target.prepare('INSERT INTO connectors (name, id) VALUES (?, ?)');
  for (const [id, name] of connectors) insertConnector.run(name, id);
  // Connectors with no chunk left keep their id, where it clashes with nothing recovered.
  try {
    for (const c of old.prepare('SELECT name, id FROM connectors').all() as Array<{ name: string; id: number }>)
      if (!connectors.has(c.id) && !names.has(c.name)) insertConnector.run(c.name, c.id);
  } catch {
    // unreadable: only the connectors with chunks are known
  }
}

/**
 * Reads every chunk of a queue file without changing it: the chunks whose checksum holds and their
 * queued points, the damaged ones, and the rows SQLite cannot read.
 */
export function inspectChunks(db: DatabaseSync): {
  chunks: number;
  points: number;
  damagedChunks: number;
  damagedPoints: number;
  unreadableRows: number;
} {
  const counts = { chunks: 0, points: 0, damagedChunks: 0, damagedPoints: 0 };
  const report = { unreadableRows: 0 };
  try {
    const withCrc = hasColumn(db, 'chunks', 'crc');
    const stateCrc = hasColumn(db, 'chunk_state', 'crc');
    const readRow = db.prepare(
      `SELECT seq, connector, priority, enqueued_at AS enqueuedAt, codec, payload, sizes, ${withCrc ? 'crc' : 'NULL AS crc'} FROM chunks WHERE seq = ?`,
    );
    const readState = prepareStateRead(db, stateCrc);
    for (const seq of rowids(db, 'chunks', 'seq', report)) {
      let row: OldChunkRow | undefined;
      try {
        row = readRow.get(seq) as OldChunkRow | undefined;
      } catch (err) {
        if (!isDamage(err)) throw err;
        report.unreadableRows++;
        continue;
      }
      if (!row) continue;
      const n = countPoints(row.sizes, readStateRow(readState, seq)?.removed ?? null)?.points ?? 0;
      if (chunkDamage(row)) {
        counts.damagedChunks++;
        counts.damagedPoints += n;
      } else {
        counts.chunks++;
        counts.points += n;
      }
    }
  } catch (err) {
    if (!isDamage(err) && !isSchemaDamage(err)) throw err;
    report.unreadableRows++;
  }
  return { ...counts, unreadableRows: report.unreadableRows };
}

/** Why a chunk row read back cannot be trusted, or undefined when it can. */
function chunkDamage(row: OldChunkRow): string | undefined {
  if (row.crc !== null && chunkRowCrc(row) !== row.crc) return 'checksum mismatch';
  try {
    if (row.sizes.byteLength % 4) throw new Error(`sizes column of ${row.sizes.byteLength} bytes`);
    const points = decodePayload(row.codec, row.payload);
    if (points.length !== row.sizes.byteLength / 4) throw new Error('point count does not match the sizes');
    return undefined;
  } catch (err) {
    return `cannot decode: ${(err as Error).message}`;
  }
}

/** The statement reading chunk state rows; undefined when the table's schema is damaged (no state is kept then). */
function prepareStateRead(db: DatabaseSync, withCrc: boolean): StatementSync | undefined {
  try {
    return db.prepare(`SELECT removed, attempts, ${withCrc ? 'crc' : 'NULL AS crc'} FROM chunk_state WHERE seq = ?`);
  } catch (err) {
    if (!isDamage(err) && !isSchemaDamage(err)) throw err;
    return undefined;
  }
}

/** The state row of a chunk, when it is readable and its checksum (if any) holds. */
function readStateRow(
  readState: StatementSync | undefined,
  seq: number,
): { removed: Uint8Array; attempts: string | null } | undefined {
  if (!readState) return undefined;
  try {
    const s = readState.get(seq) as { removed: Uint8Array; attempts: string | null; crc: number | null } | undefined;
    if (!s) return undefined;
    if (s.crc !== null && chunkStateCrc(s.removed, s.attempts) !== s.crc) return undefined;
    if (s.attempts !== null) JSON.parse(s.attempts);
    return { removed: s.removed, attempts: s.attempts };
  } catch {
    return undefined;
  }
}

/** Points of a chunk not removed yet, from its sizes column; undefined when that is damaged. */
function countPoints(sizes: Uint8Array, removed: Uint8Array | null): { points: number } | undefined {
  if (!(sizes instanceof Uint8Array) || sizes.byteLength % 4) return undefined;
  const n = sizes.byteLength / 4;
  const bitmap = removed && removed.byteLength === (n + 7) >> 3 ? removed : null;
  let points = 0;
  for (let i = 0; i < n; i++) if (!bitmap || !isRemoved(bitmap, i)) points++;
  return { points };
}

function copyDeadLetters(old: DatabaseSync, target: DatabaseSync, report: SalvageReport): void {
  const read = old.prepare(
    'SELECT seq, connector, priority, code, reason, attempts, time, point FROM dead_letters WHERE seq = ?',
  );
  const insert = target.prepare(
    'INSERT INTO dead_letters (seq, connector, priority, code, reason, attempts, time, point) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const seq of rowids(old, 'dead_letters', 'seq', report)) {
    try {
      const r = read.get(seq) as Record<string, string | number> | undefined;
      if (!r) continue;
      JSON.parse(r.point as string);
      insert.run(r.seq!, r.connector!, r.priority!, r.code!, r.reason!, r.attempts!, r.time!, r.point!);
      report.deadLetters++;
    } catch (err) {
      if (!isDamage(err) && !(err instanceof SyntaxError)) throw err;
      report.unreadableRows++;
    }
  }
}

/** Copies the readable rows of a layout-5 bookkeeping table (`quarantine`, `incidents`), if the old file has it. */
function copyTable(old: DatabaseSync, target: DatabaseSync, table: 'quarantine' | 'incidents', report: SalvageReport) {
  if (!hasColumn(old, table, 'id')) return;
  const columns = (target.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
  const read = old.prepare(`SELECT ${columns.join(', ')} FROM ${table} WHERE id = ?`);
  const insert = target.prepare(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
  );
  for (const id of rowids(old, table, 'id', report)) {
    try {
      const r = read.get(id) as Record<string, SQLInputValue> | undefined;
      if (r) insert.run(...columns.map((c) => r[c] ?? null));
    } catch (err) {
      if (!isDamage(err)) throw err;
      report.unreadableRows++;
    }
  }
}
