// openSqliteQueue: opening the SQLite queue file (layout version check, quick_check, moving a damaged
// file aside, sync pragmas, size cap, periodic checkpoints) and starting a ChunkedQueue on it.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ChunkedQueue } from './chunked-queue.js';
import { SCHEMA, SCHEMA_VERSION, schemaVersion, wasClosedCleanly } from './sqlite-schema.js';
import { SqliteChunkStore } from './sqlite-store.js';
import { QueueStorageError, type DurableQueue, type QueueOptions, type SyncMode } from './types.js';

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
}

const SYNC_PRAGMA: Record<SyncMode, string> = { always: 'FULL', batch: 'NORMAL', interval: 'OFF' };
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

const stderrLogger: QueueLogger = {
  info: (obj, msg) => process.stderr.write(`[bifrost] queue: ${msg} ${JSON.stringify(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`[bifrost] queue: ${msg} ${JSON.stringify(obj)}\n`),
};

/** The file is not a healthy SQLite database (found by `PRAGMA quick_check` or when reading it). */
class DamagedFileError extends Error {}

/**
 * Opens (or creates) the durable queue in one SQLite file per gateway, in WAL mode, through the
 * runtime's built-in `node:sqlite`. Opening checks the file (`PRAGMA quick_check`); a damaged file is
 * renamed to `<file>.corrupt-<timestamp>` with a log line and a fresh queue starts. Opening reads
 * only the per-lane totals, never the backlog, and all leases of a previous run are released.
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
  const logger = opts.logger ?? stderrLogger;
  let db: DatabaseSync;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = openChecked(path, sync, maxFileBytes);
  } catch (err) {
    if (!(err instanceof DamagedFileError)) throw asStorageError(path, err);
    let movedTo: string;
    try {
      movedTo = moveAside(path);
    } catch (renameErr) {
      throw asStorageError(
        path,
        new Error(`the file is damaged (${err.message}) and could not be moved aside: ${String(renameErr)}`),
      );
    }
    logger.error(
      { file: path, movedTo, reason: err.message },
      'queue file is damaged; moved it aside and started an empty queue (points in it were not delivered; inspect or recover it with the sqlite3 tool)',
    );
    try {
      db = openChecked(path, sync, maxFileBytes);
    } catch (again) {
      throw asStorageError(path, again);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  if (sync !== 'always') {
    // A checkpoint with synchronous=NORMAL fsyncs the WAL and the database file: this bounds what a
    // power cut can take to about one interval, however slowly the WAL fills.
    const checkpoint =
      sync === 'interval'
        ? 'PRAGMA synchronous=NORMAL; PRAGMA wal_checkpoint(PASSIVE); PRAGMA synchronous=OFF;'
        : 'PRAGMA wal_checkpoint(PASSIVE);';
    timer = setInterval(() => {
      try {
        db.exec(checkpoint);
      } catch (err) {
        logger.error({ file: path, err: String(err) }, 'periodic checkpoint failed');
      }
    }, intervalMs);
    timer.unref();
  }
  const store = new SqliteChunkStore(db, opts.compression ?? false, wasClosedCleanly(db));
  return new ChunkedQueue(store, {
    defaults: opts.defaults,
    memoryCacheBytes: opts.memoryCacheBytes,
    onClose: () => {
      if (timer) clearInterval(timer);
    },
  });
}

function openChecked(path: string, sync: SyncMode, maxFileBytes: number): DatabaseSync {
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
    db.exec('PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;');
    // Checked before the tables are created, so a file of another layout is left as it was.
    const version = schemaVersion(db);
    if (version !== undefined && version !== SCHEMA_VERSION) {
      throw new Error(
        `the file has queue layout version ${version ?? 'none'}, this build reads only layout version ${SCHEMA_VERSION}; deliver its points with the build that wrote it, or move it aside`,
      );
    }
    db.exec(SCHEMA);
    // After a clean close only the small bookkeeping tables are checked, so opening does not grow
    // with the backlog; after a crash or a storage error the whole file is checked.
    const check = (
      wasClosedCleanly(db)
        ? ['meta', 'lanes', 'chunk_state'].flatMap((t) => db.prepare(`PRAGMA quick_check(${t})`).all())
        : db.prepare('PRAGMA quick_check').all()
    ) as Array<Record<string, string>>;
    const verdict = check.map((r) => Object.values(r)[0]).filter((v) => v !== 'ok');
    if (verdict.length) throw new DamagedFileError(`quick_check: ${verdict.slice(0, 5).join('; ')}`);
    db.exec(`PRAGMA synchronous=${SYNC_PRAGMA[sync]};`);
    if (maxFileBytes > 0) {
      const pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
      db.exec(`PRAGMA max_page_count=${Math.max(1, Math.floor(maxFileBytes / pageSize))};`);
    }
    return db;
  } catch (err) {
    try {
      db.close();
    } catch {
      /* already unusable */
    }
    if (err instanceof DamagedFileError) throw err;
    throw isDamage(err) ? new DamagedFileError(String((err as Error).message)) : err;
  }
}

function isDamage(err: unknown): boolean {
  const code = (err as { errcode?: unknown }).errcode;
  return typeof code === 'number' && ((code & 0xff) === SQLITE_CORRUPT || (code & 0xff) === SQLITE_NOTADB);
}

/** Renames the file and its WAL/SHM companions to `<file>.corrupt-<timestamp>[-wal|-shm]`. */
function moveAside(path: string): string {
  const target = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  return target;
}

function asStorageError(path: string, err: unknown): QueueStorageError {
  const msg = err instanceof Error ? err.message : String(err);
  const busy = /locked|busy/i.test(msg);
  return new QueueStorageError(
    busy ? `cannot open ${path}: the file is in use by another process (${msg})` : `cannot open ${path}: ${msg}`,
    { cause: err },
  );
}
