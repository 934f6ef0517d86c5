// ChangeSet: what one group commit changes (new chunks, removed points, dead letters added or
// removed, lane deltas, drop and expiry counts), prepared before the transaction and applied after it.
import type { NewChunk, NewDeadLetter } from './chunk-store.js';
import type { LiveChunk } from './live-chunk.js';

/** Priority lanes 0..9. */
export const PRIORITIES = 10;

/**
 * What one transaction changes (enqueues, drops, expiry, dead-letter replay and purge), prepared
 * before it runs and applied to the in-memory state only after it committed, so a failed commit
 * (disk full) leaves memory and storage in agreement. Settles are the exception: they apply to
 * memory at once and ride along with the next commit (see `settle`).
 */
export class ChangeSet {
  readonly gone = new Map<LiveChunk, Set<number>>();
  readonly inserts: NewChunk[] = [];
  readonly deadLetters: NewDeadLetter[] = [];
  /** Per connector, the change of points and bytes in each priority lane. */
  readonly laneDelta = new Map<string, { points: number[]; bytes: number[] }>();
  /** Sequence numbers the inserts got, in order (filled while persisting). */
  readonly insertedSeqs: number[] = [];
  /** Chunks deleted from the store because all their points are gone (filled while persisting). */
  readonly deleted: LiveChunk[] = [];
  readonly dropped = new Map<string, number>();
  readonly expired = new Map<string, number>();
  removedDeadLetters: number[] = [];

  isEmpty(): boolean {
    return !this.gone.size && !this.inserts.length && !this.removedDeadLetters.length && !this.deadLetters.length;
  }

  addDelta(connector: string, priority: number, points: number, bytes: number): void {
    let d = this.laneDelta.get(connector);
    if (!d)
      this.laneDelta.set(
        connector,
        (d = { points: new Array<number>(PRIORITIES).fill(0), bytes: new Array<number>(PRIORITIES).fill(0) }),
      );
    // Both arrays hold PRIORITIES entries and priority is a validated 0..PRIORITIES-1.
    d.points[priority]! += points;
    d.bytes[priority]! += bytes;
  }

  /** Marks a point of a chunk for removal (drop, expiry). */
  remove(chunk: LiveChunk, i: number): void {
    let set = this.gone.get(chunk);
    if (!set) this.gone.set(chunk, (set = new Set()));
    set.add(i);
    // i is a point index of the chunk, and sizes has one entry per point.
    this.addDelta(chunk.connector, chunk.priority, -1, -chunk.sizes[i]!);
  }

  isRemoved(chunk: LiveChunk, i: number): boolean {
    return this.gone.get(chunk)?.has(i) ?? false;
  }

  count(map: Map<string, number>, connector: string, n: number): void {
    map.set(connector, (map.get(connector) ?? 0) + n);
  }
}

/** Sum of a small array of counts. */
export function sum(a: readonly number[]): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}
