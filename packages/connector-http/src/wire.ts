import { createHash, createHmac } from 'node:crypto';
import type { DataPoint } from '@bifrost/core';
import type { BodyFormat } from './config.js';

/** A point as it goes on the wire: the data point without the host's `priority`. */
export type WirePoint = Omit<DataPoint, 'priority'>;

/** The point as sent: every field but `priority` (the host's queue lane, never put on the wire). */
export function toWire(point: DataPoint): WirePoint {
  const { priority: _priority, ...wire } = point;
  return wire;
}

/** The JSON text of one point as sent (no copy when it has no `priority`, the usual case). */
export function pointJson(point: DataPoint): string {
  return JSON.stringify(point.priority === undefined ? point : toWire(point));
}

/**
 * Bytes one point adds to a body (its JSON plus the separator), the `pointBytes` of the plugin, so
 * the host's `maxBatchBytes` cut matches the request bodies.
 */
export function wirePointBytes(point: DataPoint): number {
  return Buffer.byteLength(pointJson(point)) + 1;
}

/**
 * The request body of `points` in `format`. A JSON array is one `JSON.stringify` of the batch
 * (points copied only when one carries a `priority`): per-point strings joined cost about twice as much.
 */
export function renderBody(format: BodyFormat, points: readonly DataPoint[]): string {
  switch (format) {
    case 'json':
      return JSON.stringify(points.some((p) => p.priority !== undefined) ? points.map(toWire) : points);
    case 'ndjson': {
      let out = '';
      for (const p of points) out += `${pointJson(p)}\n`;
      return out;
    }
    case 'point': {
      const [only] = points;
      if (points.length !== 1 || !only)
        throw new RangeError(`body: point renders exactly one point, got ${points.length}`);
      return pointJson(only);
    }
  }
}

export function contentType(format: BodyFormat): string {
  return format === 'ndjson' ? 'application/x-ndjson' : 'application/json';
}

/**
 * The idempotency key of a request: SHA-256 (hex) of its point ids, sorted. The same points give the
 * same key on every retry, in any order; any other set of points gives another key.
 */
export function idempotencyKey(ids: readonly string[]): string {
  return createHash('sha256')
    .update(`${[...ids].sort().join('\n')}\n`)
    .digest('hex');
}

/** `sha256=<hex>`: HMAC-SHA256 of `body` with `secret`, the value of the signature header. */
export function hmacSignature(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
