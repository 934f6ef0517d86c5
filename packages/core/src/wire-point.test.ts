import { describe, expect, it } from 'vitest';
import type { DataPoint } from './data-point.js';
import { pointJson, pointJsonByteLength, pointJsonBytes, pointsJson, wirePoint } from './wire-point.js';

const point: DataPoint = {
  id: '0190a1b2-0000-7000-8000-000000000001',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000,
};

describe('wirePoint', () => {
  it('returns the point itself when it has no priority', () => {
    expect(wirePoint(point)).toBe(point);
  });
  it('drops priority, the host lane, and nothing else', () => {
    expect(wirePoint({ ...point, priority: 7 })).toEqual(point);
  });
});

describe('pointJson', () => {
  it('is the JSON of the wire point, priority left out', () => {
    expect(JSON.parse(pointJson({ ...point, unit: 'C', priority: 3 }))).toEqual({ ...point, unit: 'C' });
  });
});

describe('pointJsonBytes', () => {
  it('counts UTF-8 bytes of the JSON, not characters, plus one separator', () => {
    const p: DataPoint = { ...point, unit: '°C', tags: { line: 'Förderband 2' } };
    const json = pointJson(p);
    expect(pointJsonBytes(p)).toBe(Buffer.byteLength(json, 'utf8') + 1);
    expect(pointJsonBytes(p)).toBe(json.length + 1 + 2); // '°' and 'ö' take two bytes each
    expect(pointJsonByteLength({ ...p, priority: 4 })).toBe(Buffer.byteLength(json, 'utf8'));
  });
  it('is the size of each point in a JSON array of them, less the brackets', () => {
    const points: DataPoint[] = [
      { ...point, priority: 9 },
      { ...point, id: 'b', value: { state: 'running', rpm: 1450 } },
    ];
    const array = pointsJson(points);
    expect(JSON.parse(array)).toEqual(points.map(wirePoint));
    const total = points.reduce((n, p) => n + pointJsonBytes(p), 0);
    // n points: n-1 commas and two brackets, one byte more than the n separators counted.
    expect(Buffer.byteLength(array)).toBe(total + 1);
  });
});
