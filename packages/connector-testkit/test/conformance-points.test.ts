import { describe, expect, it } from 'vitest';
import { checkDelivery, defaultCompare, makePoint, makePoints, type ReceivedPoint } from '../src/index.js';

describe('makePoints', () => {
  it('gives unique UUIDv7 ids, run-unique device ids and every value type', () => {
    const a = makePoints(50, 'x');
    const b = makePoints(50, 'x');
    expect(new Set([...a, ...b].map((p) => p.id)).size).toBe(100);
    for (const p of a) expect(p.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a[0]?.deviceId).not.toBe(b[0]?.deviceId);
    expect(new Set(a.map((p) => typeof p.value))).toEqual(new Set(['number', 'string', 'boolean', 'object']));
    expect(a.some((p) => p.unit) && a.some((p) => p.tags) && a.some((p) => p.quality === 'BAD')).toBe(true);
  });
});

describe('defaultCompare / checkDelivery', () => {
  const p = makePoint('cmp');
  const back = (over: Partial<ReceivedPoint> = {}): ReceivedPoint => ({ id: p.id, value: p.value, ...over });

  it('accepts a point read back with fewer fields but equal values', () => {
    expect(defaultCompare(p, back())).toBeUndefined();
    expect(defaultCompare(p, back({ deviceId: p.deviceId, timestamp: p.timestamp }))).toBeUndefined();
  });

  it('names the field that differs', () => {
    expect(defaultCompare(p, back({ value: 'other' }))).toMatch(/^value "other" != /);
    expect(defaultCompare(p, back({ timestamp: 1 }))).toMatch(/^timestamp 1 != /);
  });

  it('lists missing and mismatched ids', () => {
    const [same, changed, missing] = [makePoint('chk'), makePoint('chk'), makePoint('chk')];
    const got = new Map<string, ReceivedPoint>([
      [same.id, { id: same.id, value: same.value }],
      [changed.id, { id: changed.id, value: 'changed' }],
    ]);
    const r = checkDelivery([same, changed, missing], got, defaultCompare);
    expect(r.missing).toEqual([missing.id]);
    expect(r.mismatched).toEqual([expect.stringMatching(new RegExp(`^${changed.id}: value "changed"`))]);
  });
});
