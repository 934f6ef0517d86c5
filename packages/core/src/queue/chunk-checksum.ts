// Checksums of stored chunk rows: CRC-32 (node:zlib) over what a chunk row and a chunk state row
// hold, written with the row and checked whenever it is read back.
import { crc32 } from 'node:zlib';

/** The columns of a chunk row a checksum covers. */
export interface ChunkRowColumns {
  seq: number;
  connector: string;
  priority: number;
  enqueuedAt: number;
  codec: number;
  /** As stored (after deflate). */
  payload: Uint8Array;
  sizes: Uint8Array;
}

/**
 * CRC-32 of a stored chunk row: every column (its seq, lane, enqueue time, codec, payload as stored,
 * so after deflate, and sizes). CRC-32
 * rather than xxhash or CRC-32C: it is built into the runtime (zlib's table-driven, SIMD-folded
 * implementation, several GB/s, no dependency), catches every burst of up to 32 flipped bits and
 * all but 1 in 2^32 random damages, which is what a chunk of a few KB needs; it is no defence
 * against deliberate tampering (nothing in the queue file is).
 */
export function chunkRowCrc(r: ChunkRowColumns): number {
  const head = `${r.seq}\u0000${r.connector}\u0000${r.priority}\u0000${r.enqueuedAt}\u0000${r.codec}`;
  return crc32(r.sizes, crc32(r.payload, crc32(head)));
}

/** CRC-32 of a stored chunk state row: the removed bitmap and the attempts JSON (or none). */
export function chunkStateCrc(removed: Uint8Array, attempts: string | null): number {
  const c = crc32(removed);
  return attempts === null ? c : crc32(attempts, c);
}
