// The queue file's layout (version 5): its tables, the upgrade of layout-4 files, the version
// check's inputs (`schemaVersion`) and the clean-close flag. Opening and checking the file is sqlite-queue.ts's;
// reading and writing rows is sqlite-store.ts's.
import type { DatabaseSync } from 'node:sqlite';

/**
 * Layout version of the queue file: lanes as rowid ranges, chunk payloads as typed columns (codecs 2
 * and 3), `chunk_state.removed` as a `RemovedBitmap` BLOB (layout 4, the first released), plus a
 * CRC-32 of every chunk row and chunk state row, the `quarantine` table (raw bytes of chunks that
 * failed their checksum or could not be read) and the `incidents` table (damage an operator has not
 * acknowledged yet). A layout-4 file is upgraded in place by {@link upgradeLayout4} (its chunks keep a
 * NULL checksum and are checked by decoding); any other version (the layouts 1 to 3 of development
 * builds) is refused, not misread or upgraded.
 */
export const SCHEMA_VERSION = '5';

/** The first released layout, upgraded to {@link SCHEMA_VERSION} on open. */
export const LAYOUT_4 = '4';

/** Tables layout 5 added to layout 4. */
const NEW_IN_LAYOUT_5 = `
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  connector TEXT,
  priority INTEGER,
  points INTEGER,
  reason TEXT NOT NULL,
  time INTEGER NOT NULL,
  codec INTEGER,
  payload BLOB,
  sizes BLOB,
  state BLOB
);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL,
  connector TEXT,
  recovered INTEGER,
  lost INTEGER,
  acknowledged INTEGER NOT NULL DEFAULT 0
);
`;

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
  sizes BLOB NOT NULL,
  crc INTEGER
);
CREATE TABLE IF NOT EXISTS connectors (name TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunk_state (seq INTEGER PRIMARY KEY, removed BLOB NOT NULL, attempts TEXT, crc INTEGER);
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
${NEW_IN_LAYOUT_5}
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

/**
 * Upgrades a layout-4 file to layout 5 in one transaction, without reading the backlog: the new
 * checksum columns stay NULL for the rows already there (such a chunk is checked by decoding it).
 */
export function upgradeLayout4(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`ALTER TABLE chunks ADD COLUMN crc INTEGER;
ALTER TABLE chunk_state ADD COLUMN crc INTEGER;
${NEW_IN_LAYOUT_5}
UPDATE meta SET value = '${SCHEMA_VERSION}' WHERE key = 'schema_version';`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
