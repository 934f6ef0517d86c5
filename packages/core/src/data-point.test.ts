import { describe, expect, it } from 'vitest';
import { acceptedPoint, parsePoints, parsePointsWithIssues, PointValidationError } from './data-point.js';
import { seededRandom } from './random.js';

describe('parsePoints', () => {
  it('fills id, quality and timestamp and accepts snake_case aliases', () => {
    const [p] = parsePoints({ device_id: 'PLC001', tag_name: 'temperature', value: 21.5 }, 1000);
    expect(p).toMatchObject({
      deviceId: 'PLC001',
      tagName: 'temperature',
      value: 21.5,
      quality: 'GOOD',
      timestamp: 1000,
    });
    expect(p?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('assigns ids that sort in creation order', () => {
    const pts = parsePoints(Array.from({ length: 50 }, (_, i) => ({ deviceId: 'd', tagName: 't', value: i })));
    const ids = pts.map((p) => p.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });

  it('names every field at fault and accepts nothing', () => {
    try {
      parsePoints([
        { deviceId: 'a', tagName: 't', value: 1 },
        { deviceId: '', tagName: 't', value: Number.NaN },
      ]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PointValidationError);
      const paths = (e as PointValidationError).issues.map((i) => i.path);
      expect(paths).toContain('[1].deviceId');
      expect(paths).toContain('[1].value');
    }
  });

  it('rejects unknown fields', () => {
    expect(() => parsePoints({ deviceId: 'a', tagName: 't', value: 1, bogus: 1 })).toThrow(/bogus/);
  });

  it('refuses names no sink can carry, naming the point and field, and accepts nothing of the request', () => {
    const err = (() => {
      try {
        parsePoints([
          { deviceId: 'x\u0001y', tagName: 't', value: 1 },
          { deviceId: 'sentinel', tagName: 't\uffff', value: 2 },
          { deviceId: 'fine', tagName: 't', value: 3 },
        ]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PointValidationError);
    expect((err as PointValidationError).issues).toEqual([
      { path: '[0].deviceId', message: expect.stringContaining('U+0001') as string },
      { path: '[1].tagName', message: expect.stringContaining('U+FFFF') as string },
    ]);
  });

  it('refuses values nested too deep, timestamps past year 9999 and ids repeated within one request', () => {
    let deep: unknown = 1;
    for (let d = 0; d < 5000; d++) deep = { a: deep };
    const issues = (() => {
      try {
        parsePoints([
          { deviceId: 'd', tagName: 't', value: deep },
          { deviceId: 'd', tagName: 't', value: 1, timestamp: 1e300 },
          { id: 'same', deviceId: 'd', tagName: 't', value: 1 },
          { id: 'same', deviceId: 'd', tagName: 't', value: 2 },
        ]);
      } catch (e) {
        return (e as PointValidationError).issues;
      }
    })();
    expect(issues?.map((x) => x.path)).toEqual(['[0].value', '[1].timestamp', '[3].id']);
    expect(parsePoints({ deviceId: 'd', tagName: 't', value: { a: { b: { c: 1 } } } })).toHaveLength(1);
  });
});

describe('parsePoints fast path', () => {
  // Variations of each field, the first one typical and valid; the hand-written check must accept
  // exactly what the zod path accepts, with the same result.
  const variants: Record<string, unknown[]> = {
    id: ['abc', undefined, '', 'x'.repeat(128), 'x'.repeat(129), 7],
    deviceId: ['PLC001', undefined, '', 'd'.repeat(256), 'd'.repeat(257), 'a\u0001b', 'a\ud800', 3, null],
    device_id: [undefined, 'PLC002'],
    tagName: ['temperature', undefined, '', 't\uffff', false],
    tag_name: [undefined, 'pressure'],
    value: [1.5, -0, Number.NaN, Infinity, 'text', 'v'.repeat(65_537), true, null, [1], { a: { b: 1 } }, undefined],
    quality: [undefined, 'BAD', '', 'q'.repeat(65), 1],
    timestamp: [
      undefined,
      0,
      1_700_000_000_000,
      -1,
      1.5,
      1e300,
      '2024-01-02T03:04:05Z',
      '2024-01-02T03:04:05+02:00',
      '2024-01-02',
      '10000-01-01T00:00:00Z',
      null,
    ],
    unit: [undefined, 'degC', 'u'.repeat(65), 5],
    tags: [undefined, { line: '3' }, { line: 3 }, [], null],
    priority: [undefined, 0, 9, 10, -1, 2.5, '3'],
    bogus: [undefined, 1],
  };
  const NOW = 1_000_000;

  function slow(raw: unknown): unknown {
    try {
      return parsePointsWithIssues([raw], NOW).map(({ id, ...rest }) => ({ id: id.length, ...rest }));
    } catch (e) {
      return (e as PointValidationError).issues.length > 0 ? 'refused' : 'no issues';
    }
  }

  it('accepts exactly what the zod path accepts, with the same point, adopting or copying (seeded)', () => {
    const seed = 1913;
    const random = seededRandom(seed);
    console.log(`[parsePoints fast path] seed ${seed}`);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    let accepted = 0;
    for (let n = 0; n < 4000; n++) {
      const raw: Record<string, unknown> = {};
      for (const [key, list] of Object.entries(variants)) {
        // Mostly valid fields, so that whole points pass too.
        const v = random() < 0.8 ? list[0] : pick(list);
        if (v !== undefined || random() < 0.1) raw[key] = v;
      }
      const fast = acceptedPoint(raw, NOW, n % 2 === 0);
      const expected = slow(raw);
      if (fast === undefined) expect(expected, `seed ${seed}, ${JSON.stringify(raw)}`).toBe('refused');
      else {
        accepted++;
        const { id, ...rest } = fast;
        expect([{ id: id === '' ? 36 : id.length, ...rest }], `seed ${seed}, ${JSON.stringify(raw)}`).toEqual(expected);
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('keeps a point already in stored form as it is, and copies any other into that form', () => {
    const stored = { id: 'a', deviceId: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 5, unit: 'C' };
    expect(acceptedPoint(stored, NOW, true)).toBe(stored);
    expect(parsePoints([stored], NOW, { adopt: true })[0]).toBe(stored);
    // Not adopted unless asked (a source may freeze or reuse its objects).
    expect(acceptedPoint(stored, NOW)).not.toBe(stored);
    expect(acceptedPoint(stored, NOW)).toEqual(stored);
    const keys = (raw: Record<string, unknown>) => Object.keys(acceptedPoint(raw, NOW, true) ?? {});
    const order = ['id', 'deviceId', 'tagName', 'value', 'quality', 'timestamp', 'unit'];
    for (const raw of [
      { deviceId: 'd', id: 'a', tagName: 't', value: 1, quality: 'GOOD', timestamp: 5, unit: 'C' },
      { id: 'a', device_id: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 5, unit: 'C' },
      {
        id: 'a',
        deviceId: 'd',
        tagName: 't',
        value: 1,
        quality: 'GOOD',
        timestamp: '1970-01-01T00:00:00.005Z',
        unit: 'C',
      },
      { id: 'a', deviceId: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 5, unit: 'C', tags: undefined },
    ]) {
      const point = acceptedPoint(raw, NOW, true);
      expect(point).not.toBe(raw);
      expect(keys(raw)).toEqual(order);
      expect(point).toEqual(stored);
    }
    // Missing fields are filled in a copy.
    const partial = { deviceId: 'd', tagName: 't', value: 1 };
    expect(acceptedPoint(partial, NOW, true)).toEqual({ id: '', ...partial, quality: 'GOOD', timestamp: NOW });
  });

  it('sends a request with one bad point through the zod path, which names it', () => {
    const list = Array.from({ length: 1000 }, (_, i) => ({ deviceId: 'd', tagName: 't', value: i }));
    expect(parsePoints(list)).toHaveLength(1000);
    list[999] = { deviceId: 'd', tagName: 't', value: Number.POSITIVE_INFINITY };
    expect(() => parsePoints(list)).toThrow(/\[999\]\.value/);
  });
});
