// openSqliteQueue: opening the SQLite queue file (layout version check and upgrade, quick_check,
// salvaging a damaged file, the marker that tells a missing file from a new one, the disk-space
// reserve, sync pragmas, size cap, periodic checkpoints) and starting a ChunkedQueue on it.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ChunkedQueue } from './chunked-queue.js';
import { readMarker, writeMarker, type QueueMarker } from './queue-marker.js';
import { moveAside, salvageMessage, salvageQueueFile } from './salvage.js';
import { boundLog, DEFAULT_RESERVE_BYTES, FileSpaceReserve } from './space-reserve.js';
import { isDamage, isSchemaDamage } from './sqlite-errors.js';
import { LAYOUT_4, SCHEMA, SCHEMA_VERSION, schemaVersion, upgradeLayout4, wasClosedCleanly } from './sqlite-schema.js';
import { SqliteChunkStore } from './sqlite-store.js';
import { QueueStorageError, type DurableQueue, type QueueIncident, type QueueOptions, type SyncMode } from './types.js';

/** The part of a pino logger the queue uses. */
export interface QueueLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Options of {@link openSqliteQueue}. */
export interface SqliteQueueOptions extends QueueOptions {
  /** Where the queue reports a damaged file it moved aside, and failed interval checkpoints. Default: stderr. */
  logger?: QueueLogger;
  /**
   * Largest size the queue file may grow to (bytes, rounded to SQLite pages); 0 = no limit other than
   * the disk. When reached, enqueue fails with `QueueStorageError` and health turns red, as on a full disk.
   */
  maxFileBytes?: number;
  /**
   * Disk space (bytes) held in `<file>.reserve` and given back when the disk fills, so that acks
   * and deletions still commit while new points are refused; taken again once there is room.
   * Default 2 MiB; 0 = none.
   */
  reserveBytes?: number;
}

const SYNC_PRAGMA: Record<SyncMode, string> = { always: 'FULL', batch: 'NORMAL', interval: 'OFF' };

const stderrLogger: QueueLogger = {
  info: (obj, msg) => process.stderr.write(`[bifrost] queue: ${msg} ${JSON.stringify(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`[bifrost] queue: ${msg} ${JSON.stringify(obj)}\n`),
};

/** The file is not a healthy SQLite database (found by `PRAGMA quick_check` or when reading it). */
class DamagedFileError extends Error {}

/**
 * Opens (or creates) the durable queue in one SQLite file per gateway, in WAL mode, through the
 * runtime's built-in `node:sqlite`. Opening reads only the per-lane totals, never the backlog, and
 * all leases of a previous run are released. A layout-4 file is upgraded in place.
 *
 * Damage is never silent. Opening checks the file (`PRAGMA quick_check`; after a clean close only
 * the bookkeeping tables); a damaged file is salvaged: moved to `<file>.corrupt-<timestamp>` and
 * whatever SQLite can still read of it copied row by row into a new file, with the recovered and
 * lost points in the log and in `integrity()` / `health().degraded` until acknowledged. The marker
 * `<file>.marker` records that a queue is expected here and its size and points at the last clean
 * close: a missing or empty file, one shorter than at that close, or a missing write-ahead log
 * after a crash, is reported the same way. Every chunk carries a CRC-32 checked whenever it is
 * read; a chunk that fails it is quarantined and its lane moves on.
 *
 * A full disk refuses new points (`QueueStorageError`, health not ok) but not acks: the reserve
 * file (`reserveBytes`) is given back so that deliveries go on and the queue shrinks, and health
 * turns ok again once the reserve can be taken back.
 *
 * Durability by `sync`: `always` survives power loss for every resolved enqueue; `batch` (default)
 * survives a process crash (`kill -9`), a power cut may lose up to about `syncIntervalMs` of commits;
 * `interval` also survives a process crash, an OS crash or power cut may lose up to that interval
 * and can damage the file.
 */
// eslint-disable-next-line @typescript-eslint/require-await -- async so that a failure to open rejects
export async function openSqliteQueue(path: string, opts: SqliteQueueOptions = {}): Promise<DurableQueue> {
  const sync = opts.sync ?? 'batch';
  if (!(sync in SYNC_PRAGMA))
    throw new TypeError(`[bifrost] queue: sync must be always | batch | interval, got ${JSON.stringify(sync)}`);
  const intervalMs = opts.syncIntervalMs ?? 1000;
  if (!(Number.isInteger(intervalMs) && intervalMs > 0))
    throw new TypeError(
      `[bifrost] queue: syncIntervalMs must be a positive integer, got ${JSON.stringify(intervalMs)}`,
    );
  const maxFileBytes = opts.maxFileBytes ?? 0;
  if (!(Number.isSafeInteger(maxFileBytes) && maxFileBytes >= 0))
    throw new TypeError(
      `[bifrost] queue: maxFileBytes must be a non-negative integer, got ${JSON.stringify(maxFileBytes)}`,
    );
  const onDisk = path !== ':memory:';
  const reserveBytes = onDisk ? (opts.reserveBytes ?? DEFAULT_RESERVE_BYTES) : 0;
  if (!(Number.isSafeInteger(reserveBytes) && reserveBytes >= 0))
    throw new TypeError(
      `[bifrost] queue: reserveBytes must be a non-negative integer, got ${JSON.stringify(reserveBytes)}`,
    );
  const logger = opts.logger ?? stderrLogger;
  const found: Array<Omit<QueueIncident, 'id'>> = [];
  const compress = opts.compression ?? false;
  let db: DatabaseSync;
  let store: SqliteChunkStore;
  let closedCleanly: boolean;
  try {
    if (onDisk) mkdirSync(dirname(path), { recursive: true });
    const marker = onDisk ? readMarker(path) : undefined;
    const truncated = marker && checkExpectedFile(path, marker, found, logger);
    if (truncated) throw new DamagedFileError(truncated);
    const walMissing = onDisk && marker && !marker.cleanClose && existsSync(path) && !existsSync(`${path}-wal`);
    ({ db, store, closedCleanly } = openChecked(path, sync, maxFileBytes, compress));
    if (walMissing && !closedCleanly) {
      const message = `queue file ${path} was not closed cleanly and its write-ahead log (${path}-wal) is missing: the commits since its last checkpoint (up to about syncIntervalMs) may be lost`;
      logger.error({ file: path }, message);
      found.push({ time: Date.now(), kind: 'wal', message, lost: null });
    }
  } catch (err) {
    if (!(err instanceof DamagedFileError)) throw asStorageError(path, err);
    const marker = readMarker(path);
    let report;
    try {
      report = salvageQueueFile(path, err.message, marker?.cleanClose ? marker.points : null);
    } catch (salvageErr) {
      throw asStorageError(
        path,
        new Error(`the file is damaged (${err.message}) and could not be salvaged: ${String(salvageErr)}`),
      );
    }
    logger.error({ ...report }, salvageMessage(report));
    try {
      ({ db, store } = openChecked(path, sync, maxFileBytes, compress));
    } catch (again) {
      throw asStorageError(path, again);
    }
  }
  recordIncidents(db, found);

  let timer: NodeJS.Timeout | undefined;
  if (sync !== 'always') {
    // A checkpoint with synchronous=NORMAL fsyncs the WAL and the database file: this bounds what a
    // power cut can take to about one interval, however slowly the WAL fills.
    const checkpoint =
      sync === 'interval'
        ? 'PRAGMA synchronous=NORMAL; PRAGMA wal_checkpoint(PASSIVE); PRAGMA synchronous=OFF;'
        : 'PRAGMA wal_checkpoint(PASSIVE);';
    let failing: string | undefined;
    timer = setInterval(() => {
      try {
        db.exec(checkpoint);
        if (failing) logger.info({ file: path }, 'periodic checkpoint works again');
        failing = undefined;
      } catch (err) {
        // Once per cause, not every interval: a full disk can last.
        if (String(err) !== failing) logger.error({ file: path, err: String(err) }, 'periodic checkpoint failed');
        failing = String(err);
      }
    }, intervalMs);
    timer.unref();
  }
  boundLog(db, reserveBytes);
  const reserve = new FileSpaceReserve(path, reserveBytes, () => db);
  let startFull = false;
  try {
    startFull = !reserve.take();
  } catch (err) {
    logger.error({ file: reserve.path, err: String(err) }, 'cannot write the disk-space reserve');
  }
  /** Damage met while running: the same salvage as at open, then the queue goes on on the new file. */
  const salvage = (reason: string) => {
    store.close([], false);
    const report = salvageQueueFile(path, reason, null);
    logger.error({ ...report }, salvageMessage(report));
    ({ db, store } = openChecked(path, sync, maxFileBytes, compress));
    boundLog(db, reserveBytes);
    return store;
  };
  const marked = (points: number, cleanClose: boolean) => {
    if (!onDisk) return;
    try {
      writeMarker(path, { layout: SCHEMA_VERSION, cleanClose, bytes: statSync(path).size, points });
    } catch (err) {
      logger.error({ file: path, err: String(err) }, 'cannot write the queue marker');
    }
  };
  const queue = new ChunkedQueue(store, {
    defaults: opts.defaults,
    memoryCacheBytes: opts.memoryCacheBytes,
    reserve,
    startFull,
    salvage: onDisk ? salvage : undefined,
    onClose: (points, clean) => {
      if (timer) clearInterval(timer);
      marked(points, clean);
    },
  });
  marked(
    queue.connectors().reduce((n, c) => n + queue.stats(c).points, 0),
    false,
  );
  return queue;
}

/**
 * Compares the file with its marker: records an incident (and logs) when it is missing or empty;
 * returns why it counts as damaged when it is shorter than at its last clean close.
 */
function checkExpectedFile(
  path: string,
  marker: QueueMarker,
  found: Array<Omit<QueueIncident, 'id'>>,
  logger: QueueLogger,
): string | undefined {
  const size = existsSync(path) ? statSync(path).size : -1;
  const held = marker.cleanClose ? `${marker.points} points` : `${marker.points} points or more`;
  if (size <= 0) {
    const movedTo = size === 0 ? moveAside(path) : undefined;
    const message = `queue file ${path} is ${size === 0 ? `empty (kept as ${movedTo})` : 'missing'} although a queue was expected there (its marker of ${marker.time} counts ${held}); started an empty queue`;
    logger.error({ file: path, marker }, message);
    found.push({ time: Date.now(), kind: 'missing', message, lost: marker.cleanClose ? marker.points : null });
    return undefined;
  }
  if (marker.cleanClose && size < marker.bytes)
    return `the file is ${size} bytes, ${marker.bytes} at its last clean close: truncated`;
  return undefined;
}

/** Stores incidents found before the store opened. */
function recordIncidents(db: DatabaseSync, found: ReadonlyArray<Omit<QueueIncident, 'id'>>): void {
  const insert = db.prepare('INSERT INTO incidents (time, kind, message, lost) VALUES (?, ?, ?, ?)');
  for (const i of found) insert.run(i.time, i.kind, i.message, i.lost ?? null);
}

/**
 * Opens the file and checks it; throws {@link DamagedFileError} when it is damaged (SQLite's check,
 * or a schema the store's statements cannot use).
 */
function openChecked(
  path: string,
  sync: SyncMode,
  maxFileBytes: number,
  compress: boolean,
): { db: DatabaseSync; store: SqliteChunkStore; closedCleanly: boolean } {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (err) {
    throw isDamage(err) ? new DamagedFileError(String((err as Error).message)) : err;
  }
  try {
    // Exclusive locking: one gateway per queue file, and no shared-memory index is needed. The
    // default 4 KiB pages are kept: 16 KiB pages made small commits (batch 1) 1.5x dearer in CPU
    // and did not measurably help batches of 1000.
    db.exec('PRAGMA locking_mode=EXCLUSIVE');
    // Checked before the tables are created, so a file of another layout is left as it was.
    const version = schemaVersion(db);
    if (typeof version === 'string' && !/^\d+$/.test(version))
      throw new DamagedFileError(`layout version ${JSON.stringify(version)} is not a version`);
    // A queue file (it has chunks) whose version row is gone: its meta table was damaged.
    if (version === null && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chunks'").get())
      throw new DamagedFileError('the layout version is missing from a queue file');
    // A new file gives free pages back to the disk on demand (see space-reserve.ts); this must be
    // set before anything, WAL mode included, is written.
    if (version === undefined) db.exec('PRAGMA auto_vacuum=INCREMENTAL');
    db.exec('PRAGMA journal_mode=WAL');
    if (version === LAYOUT_4) upgradeLayout4(db);
    else if (version !== undefined && version !== SCHEMA_VERSION) {
      throw new Error(
        `the file has queue layout version ${version ?? 'none'}, this build reads only layout versions ${LAYOUT_4} and ${SCHEMA_VERSION}; deliver its points with the build that wrote it, or move it aside`,
      );
    }
    db.exec(SCHEMA);
    // After a clean close only the small bookkeeping tables are checked, so opening does not grow
    // with the backlog; after a crash or a storage error the whole file is checked.
    const closedCleanly = wasClosedCleanly(db);
    const check = (
      closedCleanly
        ? ['meta', 'lanes', 'connectors', 'chunk_state'].flatMap((t) => db.prepare(`PRAGMA quick_check(${t})`).all())
        : db.prepare('PRAGMA quick_check').all()
    ) as Array<Record<string, string>>;
    const verdict = check.map((r) => Object.values(r)[0]).filter((v) => v !== 'ok');
    if (verdict.length) throw new DamagedFileError(`quick_check: ${verdict.slice(0, 5).join('; ')}`);
    db.exec(`PRAGMA synchronous=${SYNC_PRAGMA[sync]};`);
    if (maxFileBytes > 0) {
      const pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
      db.exec(`PRAGMA max_page_count=${Math.max(1, Math.floor(maxFileBytes / pageSize))};`);
    }
    // Preparing the store's statements also checks the schema SQLite reads back.
    return { db, store: new SqliteChunkStore(db, compress, closedCleanly), closedCleanly };
  } catch (err) {
    try {
      db.close();
    } catch {
      /* already unusable */
    }
    if (err instanceof DamagedFileError) throw err;
    throw isDamage(err) || isSchemaDamage(err) ? new DamagedFileError(String((err as Error).message)) : err;
  }
}

function asStorageError(path: string, err: unknown): QueueStorageError {
  const msg = err instanceof Error ? err.message : String(err);
  const busy = /locked|busy/i.test(msg);
  return new QueueStorageError(
    busy ? `cannot open ${path}: the file is in use by another process (${msg})` : `cannot open ${path}: ${msg}`,
    { cause: err },
  );
}
