import type { DataPoint } from '../data-point.js';

/** How the host cuts leased points into batches a connector accepts. */
export interface BatchLimits {
  /** Points per batch (the configured `batch_size`, at most the connector's `maxBatch`). */
  maxPoints: number;
  /** Payload bytes per batch, as `pointBytes` measures them; undefined: no byte limit. */
  maxBytes: number | undefined;
  pointBytes: (point: DataPoint) => number;
}

/**
 * Numbers consecutive points into batches of at most `maxPoints` points and `maxBytes` bytes (a
 * point larger than `maxBytes` alone makes a batch of one). Call the returned function once per
 * point, in order; it returns the point's batch number, starting at 0.
 */
export function batchNumberer(limits: BatchLimits): (point: DataPoint) => number {
  let batch = 0;
  let points = 0;
  let bytes = 0;
  return (point) => {
    const size = limits.maxBytes === undefined ? 0 : limits.pointBytes(point);
    const full =
      points >= limits.maxPoints || (limits.maxBytes !== undefined && points > 0 && bytes + size > limits.maxBytes);
    if (full) {
      batch++;
      points = 0;
      bytes = 0;
    }
    points++;
    bytes += size;
    return batch;
  };
}

/**
 * How many of `points` (from the front) fit one batch under `limits`; at least one. With no byte
 * limit, all of them (the lease was already sized by count).
 */
export function fittingPrefix(points: readonly DataPoint[], limits: BatchLimits): number {
  if (limits.maxBytes === undefined) return points.length;
  const numberOf = batchNumberer(limits);
  let n = 0;
  for (const p of points) {
    if (numberOf(p) > 0) break;
    n++;
  }
  return Math.max(1, n);
}
