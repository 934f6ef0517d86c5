import { describe, expect, it } from 'vitest';
import type { DataPoint } from '../src/data-point.js';
import { decodeChunk, encodeChunk } from '../src/queue/chunk-codec.js';

const reading = (i: number, extra: Partial<DataPoint> = {}): DataPoint => ({
  id: `0190f3a2-7c1d-7000-8000-${String(i).padStart(12, '0')}`,
  deviceId: `PLC${i % 5}`,
  tagName: 'temperature',
  value: 20 + i / 100,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
  unit: 'C',
  ...extra,
});

/** The header of a typed-column payload (what follows the float64 section). */
function header(payload: Buffer): { n: number; k: string[]; c: Array<[number, ...unknown[]]> } {
  return JSON.parse(payload.toString('utf8', 4 + payload.readUInt32LE(0))) as ReturnType<typeof header>;
}

describe('chunk codec (typed columns)', () => {
  it('round-trips points of different shapes, nested values and optional fields', () => {
    const points: DataPoint[] = [
      { id: 'a', deviceId: 'PLC001', tagName: 't', value: 1.5, quality: 'GOOD', timestamp: 1 },
      {
        id: 'b',
        deviceId: 'PLC002',
        tagName: 'state',
        value: 'RUN',
        quality: 'ALARM',
        timestamp: 2,
        unit: 'C',
        priority: 9,
      },
      {
        id: 'c',
        deviceId: 'PLC003',
        tagName: 'flag',
        value: false,
        quality: 'BAD',
        timestamp: 3,
        tags: { line: '4', 'x"y': 'z\n' },
      },
      {
        tags: { a: 'b' },
        id: 'd',
        deviceId: 'ünïcode',
        tagName: 'obj',
        value: { nested: [1, { deep: null }], s: 'x' },
        quality: 'UNCERTAIN',
        timestamp: 4,
      },
    ];
    const { payload, sizes } = encodeChunk(points);
    expect(decodeChunk(payload)).toEqual(points);
    expect(sizes).toHaveLength(4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(payload.length);
  });

  it('drops undefined fields like JSON does', () => {
    const p = {
      id: 'a',
      deviceId: 'd',
      tagName: 't',
      value: 1,
      quality: 'GOOD',
      timestamp: 1,
      unit: undefined,
    } as DataPoint;
    expect(decodeChunk(encodeChunk([p]).payload)).toEqual([
      { id: 'a', deviceId: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 1 },
    ]);
  });

  it('stores all-number fields as float64: exact, including -0, large integers and tiny fractions', () => {
    const values = [0.1 + 0.2, -0, Number.MAX_SAFE_INTEGER, 5e-324, -1.7976931348623157e308, 123456789.12345679];
    const points = values.map((value, i) => reading(i, { value, timestamp: 8_640_000_000_000_000 - i }));
    const { payload } = encodeChunk(points);
    const h = header(payload);
    expect(h.c[h.k.indexOf('value')]).toEqual([0]);
    expect(h.c[h.k.indexOf('timestamp')]).toEqual([0]);
    const back = decodeChunk(payload);
    expect(back).toEqual(points);
    expect(Object.is(back[1]?.value, -0)).toBe(true);
  });

  it('keeps a field that is a number in only some points as JSON values', () => {
    const points = [
      reading(0),
      reading(1, { value: 'RUN' }),
      reading(2, { value: true }),
      reading(3, { value: { a: 1 } }),
    ];
    const { payload } = encodeChunk(points);
    const h = header(payload);
    expect(h.c[h.k.indexOf('value')]?.[0]).toBe(2);
    expect(decodeChunk(payload)).toEqual(points);
  });

  it('stores repeated strings once per chunk, and unique ones (point ids) as they are', () => {
    const points = Array.from({ length: 40 }, (_, i) => reading(i));
    const { payload } = encodeChunk(points);
    const h = header(payload);
    expect(h.c[h.k.indexOf('deviceId')]).toEqual([
      1,
      ['PLC0', 'PLC1', 'PLC2', 'PLC3', 'PLC4'],
      points.map((_, i) => i % 5),
    ]);
    expect(h.c[h.k.indexOf('quality')]?.[0]).toBe(1);
    expect(h.c[h.k.indexOf('id')]?.[0]).toBe(2);
    expect(decodeChunk(payload)).toEqual(points);
  });

  it('keeps ids as plain values even when they repeat (a replayed point), and reads them back', () => {
    const points = Array.from({ length: 40 }, (_, i) => reading(i, { id: i % 2 ? 'same' : 'other' }));
    const { payload } = encodeChunk(points);
    const h = header(payload);
    expect(h.c[h.k.indexOf('id')]?.[0]).toBe(2);
    expect(h.c[h.k.indexOf('deviceId')]?.[0]).toBe(1);
    expect(decodeChunk(payload)).toEqual(points);
  });

  it('does not use a dictionary for a field some points lack', () => {
    const points = Array.from({ length: 40 }, (_, i) => (i % 2 ? reading(i) : reading(i, { unit: undefined })));
    const { payload } = encodeChunk(points);
    const h = header(payload);
    expect(h.c[h.k.indexOf('unit')]?.[0]).toBe(2);
    expect(decodeChunk(payload)).toEqual(JSON.parse(JSON.stringify(points)));
  });

  it('stores uniform readings in much less than one JSON object per point', () => {
    const points = Array.from({ length: 1000 }, (_, i) => reading(i));
    const perPoint = Buffer.byteLength(`[${points.map((p) => JSON.stringify(p)).join(',')}]`);
    expect(encodeChunk(points).payload.length).toBeLessThan(perPoint * 0.55);
  });
});
