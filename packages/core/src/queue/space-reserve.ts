// FileSpaceReserve: disk space held in a file beside the queue (`<file>.reserve`), given back when
// the disk fills so that acks and deletions still commit, and taken again once there is room.
import { closeSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import type { SpaceReserve } from './chunked-queue.js';
import { isFull } from './sqlite-errors.js';

/** Default size of the reserve file. */
export const DEFAULT_RESERVE_BYTES = 2 * 1024 * 1024;

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
