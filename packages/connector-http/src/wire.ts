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

/** The JSON text of one point as sent. */
export function pointJson(point: DataPoint): string {
  return JSON.stringify(toWire(point));
}

/**
 * Bytes one point adds to a body (its JSON plus the separator), the `pointBytes` of the plugin, so
 * the host's `maxBatchBytes` cut matches the request bodies.
 */
export function wirePointBytes(point: DataPoint): number {
  return Buffer.byteLength(pointJson(point)) + 1;
}

/** The request body of `points` (already serialised one by one) in `format`. */
export function renderBody(format: BodyFormat, json: readonly string[]): string {
  switch (format) {
    case 'json':
      return `[${json.join(',')}]`;
    case 'ndjson':
      return json.length ? `${json.join('\n')}\n` : '';
    case 'point':
      if (json.length !== 1) throw new RangeError(`body: point renders exactly one point, got ${json.length}`);
      return json[0]!;
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
  const hash = createHash('sha256');
  for (const id of [...ids].sort()) hash.update(id).update('\n');
  return hash.digest('hex');
}

/** `sha256=<hex>`: HMAC-SHA256 of `body` with `secret`, the value of the signature header. */
export function hmacSignature(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
