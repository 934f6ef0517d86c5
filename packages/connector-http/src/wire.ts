import { createHash, createHmac } from 'node:crypto';
import { pointJson, pointsJson, type DataPoint } from '@bifrost/core';
import type { BodyFormat } from './config.js';

/** The request body of `points` in `format`. */
export function renderBody(format: BodyFormat, points: readonly DataPoint[]): string {
  switch (format) {
    case 'json':
      return pointsJson(points);
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

/** The `Content-Type` of a body in `format`. */
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
