// FileSpaceReserve: disk space held in a file beside the queue (`<file>.reserve`), given back when
// the disk fills so that acks and deletions still commit, and taken again once there is room.
import { closeSync, openSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import type { SpaceReserve } from './chunked-queue.js';
import { isFull } from './sqlite-errors.js';

/** Default size of the reserve file. */
export const DEFAULT_RESERVE_BYTES = 2 * 1024 * 1024;

/**
 * Keeps what a checkpoint may still have to write into the file within half the reserve (the
 * log is checkpointed every `reserveBytes / 2`, SQLite's default is 4 MiB) and truncates the log
 * back to the reserve's size after a checkpoint: then, once the reserve is given back, the
 * checkpoint that empties the log always has room.
 */
export function boundLog(db: DatabaseSync, reserveBytes: number): void {
  if (reserveBytes === 0) return;
  const pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size;
  const pages = Math.min(1000, Math.max(16, Math.floor(reserveBytes / 2 / pageSize)));
  db.exec(`PRAGMA wal_autocheckpoint=${pages}; PRAGMA journal_size_limit=${reserveBytes};`);
}

/**
 * The reserve of one SQLite queue file. In WAL mode every commit, even one that only deletes, first
 * appends pages to the write-ahead log, so a full disk would otherwise refuse the very acks that
 * free space. Taking the reserve back first checkpoints and truncates the log and gives the file's
 * free pages back to the disk (`incremental_vacuum`, for files created with auto_vacuum).
 */
export class FileSpaceReserve implements SpaceReserve {
  readonly path: string;

  constructor(
    file: string,
    private readonly bytes: number,
    /** The queue's database (a salvage replaces it). */
    private readonly db: () => DatabaseSync,
  ) {
    this.path = `${file}.reserve`;
  }

  isFull(err: unknown): boolean {
    return isFull(err) || (err instanceof Error && isFull(err.cause));
  }

  release(): void {
    rmSync(this.path, { force: true });
  }

  relieve(): void {
    // Copies the log into the file and truncates it: in WAL mode every commit appends to the log,
    // which only rewinds once a checkpoint has copied it all.
    this.db().exec('PRAGMA wal_checkpoint(TRUNCATE)');
  }

  restore(): boolean {
    if (this.bytes === 0) return true;
    const db = this.db();
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.exec('PRAGMA incremental_vacuum');
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    // Room for the reserve and as much again for new points, so that taking it back does not
    // fill the disk at once.
    const fs = statfsSync(dirname(this.path));
    if (fs.bavail * fs.bsize < 2 * this.bytes) return false;
    return this.take();
  }

  /** Writes the reserve file; false (and no file left) when the disk has no room for it. */
  take(): boolean {
    if (this.bytes === 0) return true;
    try {
      if (statSync(this.path).size === this.bytes) return true;
    } catch {
      // not there yet
    }
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'w');
      // Written, not only sized: a sparse file would hold no space.
      const block = Buffer.alloc(Math.min(this.bytes, 1 << 20));
      for (let at = 0; at < this.bytes; at += block.length)
        writeSync(fd, block, 0, Math.min(block.length, this.bytes - at), at);
      closeSync(fd);
      return true;
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      rmSync(this.path, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC' || (err as NodeJS.ErrnoException).code === 'EDQUOT')
        return false;
      throw err;
    }
  }
}
