import type { DataPoint } from '../data-point.js';

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

  constructor(
    readonly seq: number,
    readonly connector: string,
    readonly priority: number,
    readonly points: readonly DataPoint[],
    readonly sizes: readonly number[],
    readonly state: Uint8Array,
    readonly attempts: number[],
  ) {
    this.gone = state.reduce((n, s) => n + (s === GONE ? 1 : 0), 0);
    this.available = points.length - this.gone;
    this.hasAttempts = attempts.some((a) => a > 0);
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
