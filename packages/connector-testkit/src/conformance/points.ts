import { isDeepStrictEqual } from 'node:util';
import { randomBytes } from 'node:crypto';
import { newPointId, type DataPoint } from '@bifrost/core';
import type { ConformanceCapabilities, Collector, ReceivedPoint } from './types.js';

/**
 * Points for one scenario: fresh UUIDv7 ids, device ids unique to the run (so concurrent scenarios
 * and old data never mix), and every value type (float, integer, string, boolean, object) plus a
 * unit and tags on some.
 */
export function makePoints(count: number, scenario: string, start = 0): DataPoint[] {
  const run = randomBytes(3).toString('hex');
  const base = Date.now() - count;
  const points = new Array<DataPoint>(count);
  for (let k = 0; k < count; k++) {
    const i = start + k;
    const point: DataPoint = {
      id: newPointId(),
      deviceId: `conf-${scenario}-${run}-d${i % 10}`,
      tagName: `tag${i % 7}`,
      value: valueFor(i),
      quality: i % 50 === 49 ? 'BAD' : 'GOOD',
      timestamp: base + k,
    };
    if (i % 5 === 0) point.unit = 'degC';
    if (i % 11 === 0) point.tags = { line: `L${i % 3}`, site: 'conformance' };
    points[k] = point;
  }
  return points;
}

/** One point as `makePoints(1, scenario)` makes it: for a poison point or a single probe. */
export function makePoint(scenario: string): DataPoint {
  const [point] = makePoints(1, scenario);
  if (!point) throw new Error('[testkit] makePoints(1) made no point');
  return point;
}

function valueFor(i: number): DataPoint['value'] {
  switch (i % 5) {
    case 0:
      return Math.round(Math.sin(i) * 1e6) / 1e3;
    case 1:
      return i;
    case 2:
      return `s-${i}`;
    case 3:
      return i % 2 === 0;
    default:
      return { n: i, ok: true };
  }
}

/** Default comparison: value deep-equal; device, tag, quality and timestamp equal where the sink kept them. */
export function defaultCompare(sent: DataPoint, got: ReceivedPoint): string | undefined {
  if (!isDeepStrictEqual(sent.value, got.value))
    return `value ${JSON.stringify(got.value)} != ${JSON.stringify(sent.value)}`;
  for (const key of ['deviceId', 'tagName', 'quality', 'timestamp'] as const) {
    if (got[key] !== undefined && got[key] !== sent[key])
      return `${key} ${JSON.stringify(got[key])} != ${JSON.stringify(sent[key])}`;
  }
  return undefined;
}

/** Outcome of checking a read-back against what was sent. */
export interface DeliveryCheck {
  missing: string[];
  mismatched: string[];
}

/**
 * Waits until every sent point is read back, then compares values. Throws an Error listing the
 * first missing or differing ids (with counts) so a failure says what was lost.
 */
export async function expectDelivered(
  collector: Collector,
  sent: readonly DataPoint[],
  timeoutMs: number,
  caps: ConformanceCapabilities = {},
): Promise<void> {
  const got = await collector.waitFor(
    sent.map((p) => p.id),
    timeoutMs,
  );
  const check = checkDelivery(sent, got, caps.compare ?? defaultCompare);
  if (check.missing.length || check.mismatched.length) {
    throw new Error(
      `[conformance] ${sent.length - check.missing.length}/${sent.length} points read back within ${timeoutMs} ms; ` +
        `${check.missing.length} missing (first: ${check.missing.slice(0, 5).join(', ') || '-'}), ` +
        `${check.mismatched.length} with other values (first: ${check.mismatched.slice(0, 3).join('; ') || '-'})`,
    );
  }
}

/** Compares sent points with what was read back by id. */
export function checkDelivery(
  sent: readonly DataPoint[],
  got: ReadonlyMap<string, ReceivedPoint>,
  compare: (sent: DataPoint, got: ReceivedPoint) => string | undefined,
): DeliveryCheck {
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const p of sent) {
    const r = got.get(p.id);
    if (!r) {
      missing.push(p.id);
      continue;
    }
    const diff = compare(p, r);
    if (diff) mismatched.push(`${p.id}: ${diff}`);
  }
  return { missing, mismatched };
}
