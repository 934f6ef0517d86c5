// The queue file's layout (version 4, the first released): its tables, the version check's inputs
// (`schemaVersion`) and the clean-close flag. Opening and checking the file is sqlite-queue.ts's;
// reading and writing rows is sqlite-store.ts's.
import type { DatabaseSync } from 'node:sqlite';

/**
 * Layout version of the queue file, the first one released: lanes as rowid ranges, chunk payloads as
 * typed columns (codecs 2 and 3), `chunk_state.removed` as a `RemovedBitmap` BLOB. A file of
 * any other version (the layouts 1 to 3 of development builds) is refused, not misread or upgraded.
 */
export const SCHEMA_VERSION = '4';

/** Tables of the queue file. */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
  seq INTEGER PRIMARY KEY,
  connector TEXT NOT NULL,
  priority INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL,
  codec INTEGER NOT NULL,
  payload BLOB NOT NULL,
  sizes BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS connectors (name TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunk_state (seq INTEGER PRIMARY KEY, removed BLOB NOT NULL, attempts TEXT);
CREATE TABLE IF NOT EXISTS lanes (
  connector TEXT NOT NULL,
  priority INTEGER NOT NULL,
  points INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (connector, priority)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
  seq INTEGER PRIMARY KEY,
  connector TEXT NOT NULL,
  priority INTEGER NOT NULL,
  code TEXT NOT NULL,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  time INTEGER NOT NULL,
  point TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_connector ON dead_letters (connector, seq);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}');
INSERT OR IGNORE INTO meta (key, value) VALUES ('clean_close', '0');
`;

/**
 * The layout version recorded in the file: undefined for a new file (no `meta` table yet), null when
 * it has a `meta` table without a version (not a queue file this project wrote).
 */
export function schemaVersion(db: DatabaseSync): string | null | undefined {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get()) return undefined;
  return (
    (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)?.value ??
    null
  );
}

/** Whether the file was closed cleanly last time (then `lanes` holds exact totals). */
export function wasClosedCleanly(db: DatabaseSync): boolean {
  return (
    (db.prepare("SELECT value FROM meta WHERE key = 'clean_close'").get() as { value: string } | undefined)?.value ===
    '1'
  );
}
