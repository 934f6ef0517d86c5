import { describe, expect, it } from 'vitest';
import type { DataPoint } from '../src/data-point.js';
import { decodeChunk, encodeChunk } from '../src/queue/chunk-codec.js';

describe('chunk codec (column layout)', () => {
  it('round-trips points of different shapes, nested values and optional fields', () => {
    const points: DataPoint[] = [
      { id: 'a', deviceId: 'PLC001', tagName: 't', value: 1.5, quality: 'GOOD', timestamp: 1 },
      { id: 'b', deviceId: 'PLC002', tagName: 'state', value: 'RUN', quality: 'ALARM', timestamp: 2, unit: 'C', priority: 9 },
      { id: 'c', deviceId: 'PLC003', tagName: 'flag', value: false, quality: 'BAD', timestamp: 3, tags: { line: '4', 'x"y': 'z\n' } },
      { tags: { a: 'b' }, id: 'd', deviceId: 'ünïcode', tagName: 'obj', value: { nested: [1, { deep: null }], s: 'x' }, quality: 'UNCERTAIN', timestamp: 4 },
    ];
    const { text, sizes } = encodeChunk(points);
    expect(decodeChunk(text)).toEqual(points);
    expect(sizes).toHaveLength(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(text));
  });

  it('drops undefined fields like JSON does', () => {
    const p = { id: 'a', deviceId: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 1, unit: undefined } as DataPoint;
    expect(decodeChunk(encodeChunk([p]).text)).toEqual([{ id: 'a', deviceId: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 1 }]);
  });

  it('stores uniform readings in much less than one JSON object per point', () => {
    const points = Array.from({ length: 1000 }, (_, i): DataPoint => ({ id: `0190f3a2-7c1d-7000-8000-${String(i).padStart(12, '0')}`, deviceId: 'PLC001', tagName: 'temperature', value: 20 + i / 100, quality: 'GOOD', timestamp: 1_700_000_000_000 + i, unit: 'C' }));
    const perPoint = Buffer.byteLength(`[${points.map((p) => JSON.stringify(p)).join(',')}]`);
    expect(Buffer.byteLength(encodeChunk(points).text)).toBeLessThan(perPoint * 0.7);
  });
});
