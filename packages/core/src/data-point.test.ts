import { describe, expect, it } from 'vitest';
import { parsePoints, PointValidationError } from './data-point.js';

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
