import type { DataPoint } from './data-point.js';

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

/** JSON of points already serialised (by a connector's `pointBytes`, then again by its write). */
const serialized = new WeakMap<DataPoint, string>();

/**
 * The JSON text of {@link wirePoint}, memoised per point object (points are immutable once
 * queued), so a connector whose `pointBytes` measures this JSON serialises each point once.
 */
export function pointJson(point: DataPoint): string {
  let json = serialized.get(point);
  if (json === undefined) serialized.set(point, (json = JSON.stringify(wirePoint(point))));
  return json;
}

/**
 * The UTF-8 bytes of {@link pointJson} plus one separator byte (the comma of a JSON array, the
 * newline of NDJSON). Meant as a connector's `pointBytes` when its bodies are JSON points or
 * arrays of them, so the host's `maxBatchBytes` cut matches what the write sends; it serialises
 * through the same memo, so the write reuses the measured JSON.
 */
export function pointJsonBytes(point: DataPoint): number {
  return Buffer.byteLength(pointJson(point)) + 1;
}
