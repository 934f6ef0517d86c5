// LiveChunk: a parsed chunk with the state of each point (available, leased, gone), its removed
// bitmap kept current, and picking available points in lease order.
import type { DataPoint } from '../data-point.js';
import { setRemoved, type RemovedBitmap } from './removed-bitmap.js';

/** State of one point of a parsed chunk. */
export const AVAILABLE = 0;
export const LEASED = 1;
export const GONE = 2;

/** A chunk whose points were read, with the state of each point. */
export class LiveChunk {
  available: number;
  leased = 0;
  gone: number;
  /** Whether some point has a delivery attempt recorded (then `attempts` is stored with the state). */
  hasAttempts: boolean;
  /** The GONE points as stored, kept up to date by {@link LiveChunk.markGone}. */
  readonly removed: RemovedBitmap;

  constructor(
    readonly seq: number,
    readonly connector: string,
    readonly priority: number,
    readonly points: readonly DataPoint[],
    readonly sizes: readonly number[],
    readonly state: Uint8Array,
    readonly attempts: number[],
  ) {
    this.removed = new Uint8Array((state.length + 7) >> 3);
    this.gone = 0;
    for (let i = 0; i < state.length; i++) {
      if (state[i] === GONE) {
        setRemoved(this.removed, i);
        this.gone++;
      }
    }
    this.available = points.length - this.gone;
    this.hasAttempts = attempts.some((a) => a > 0);
  }

  /** Point `i` is gone (acked, dead-lettered, dropped or expired); the caller adjusts `available` / `leased`. */
  markGone(i: number): void {
    this.state[i] = GONE;
    this.gone++;
    setRemoved(this.removed, i);
  }
}

/** Up to `want` available point indexes of a chunk, from its start (or end when `descending`). */
export function pickAvailable(chunk: LiveChunk, want: number, descending: boolean): number[] {
  const idx: number[] = [];
  if (!chunk.available) return idx;
  const n = chunk.points.length;
  for (let k = 0; k < n && idx.length < want; k++) {
    const i = descending ? n - 1 - k : k;
    if (chunk.state[i] === AVAILABLE) idx.push(i);
  }
  return idx;
}
