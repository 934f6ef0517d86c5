import type { DataPoint } from './data-point.js';
import { jsonObjectBytes } from './json-bytes.js';

/** A point as connectors put it on the wire: the data point without the host's `priority`. */
export type WirePoint = Omit<DataPoint, 'priority'>;

/**
 * The point as it goes on the wire: without `priority`, the host's queue lane, which is never
 * published (copied only when set, so the common case allocates nothing).
 */
export function wirePoint(point: DataPoint): WirePoint {
  if (point.priority === undefined) return point;
  const { priority: _lane, ...wire } = point;
  return wire;
}

/** The JSON text of {@link wirePoint}. */
export function pointJson(point: DataPoint): string {
  return JSON.stringify(wirePoint(point));
}

/**
 * The JSON array of the wire points, in one `JSON.stringify` (points copied only when one carries a
 * `priority`): joining per-point strings costs about twice as much.
 */
export function pointsJson(points: readonly DataPoint[]): string {
  return JSON.stringify(points.some((p) => p.priority !== undefined) ? points.map(wirePoint) : points);
}

/** The UTF-8 bytes of {@link pointJson}, counted without serialising the point. */
export function pointJsonByteLength(point: DataPoint): number {
  return jsonObjectBytes(point as unknown as Record<string, unknown>, 'priority');
}

/**
 * {@link pointJsonByteLength} plus one separator byte (the comma of a JSON array, the newline of
 * NDJSON). Meant as a connector's `pointBytes` when its bodies are JSON points or arrays of them, so
 * the host's `maxBatchBytes` cut matches what the write sends.
 */
export function pointJsonBytes(point: DataPoint): number {
  return pointJsonByteLength(point) + 1;
}
