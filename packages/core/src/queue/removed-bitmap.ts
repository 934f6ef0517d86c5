// The removed-points bitmap stored per chunk (`chunk_state.removed`).
/**
 * Which points of a stored chunk are removed (acked, dead-lettered, dropped or expired): bit `i & 7`
 * of byte `i >> 3` is set when point `i` is. A chunk of 1000 points takes 125 bytes, so recording
 * an ack rewrites a small value of fixed size, however many of the chunk's points are gone.
 */
export type RemovedBitmap = Uint8Array;

// Callers pass i < the chunk's point count and the bitmap holds (count + 7) >> 3 bytes, so byte i >> 3 exists.
export function isRemoved(bitmap: RemovedBitmap, i: number): boolean {
  return (bitmap[i >> 3]! & (1 << (i & 7))) !== 0;
}

export function setRemoved(bitmap: RemovedBitmap, i: number): void {
  bitmap[i >> 3]! |= 1 << (i & 7);
}
