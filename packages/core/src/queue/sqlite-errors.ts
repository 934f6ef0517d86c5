// Classifying node:sqlite errors by their SQLite result code.

const SQLITE_ERROR = 1;
/** SQLite's result code for a damaged file. */
export const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_NOTADB = 26;

function primaryCode(err: unknown): number | undefined {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/** SQLite found the file damaged (SQLITE_CORRUPT) or not a database at all (SQLITE_NOTADB). */
export function isDamage(err: unknown): boolean {
  const code = primaryCode(err);
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB;
}

/** The disk (or the file's size cap) is full: SQLITE_FULL. */
export function isFull(err: unknown): boolean {
  return primaryCode(err) === SQLITE_FULL;
}

/**
 * A table or column the queue's own schema has is missing: the schema SQLite read back is damaged
 * (checked only after the tables were created, so a file of another layout never gets here).
 */
export function isSchemaDamage(err: unknown): boolean {
  return primaryCode(err) === SQLITE_ERROR && /no such (table|column)|has no column named|malformed/i.test(String(err));
}
