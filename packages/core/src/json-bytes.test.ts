import { describe, expect, it } from 'vitest';
import { jsonBytes, jsonObjectBytes } from './json-bytes.js';
import { seededRandom } from './random.js';

const expected = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? '');

describe('jsonBytes', () => {
  it('is the UTF-8 length of JSON.stringify for every kind of JSON value', () => {
    const cases: unknown[] = [
      0,
      -0,
      7,
      -12,
      1e21,
      2 ** 53,
      -(2 ** 53) + 1,
      0.1,
      -1.5e-7,
      123456789.125,
      NaN,
      Infinity,
      -Infinity,
      true,
      false,
      null,
      '',
      'plain',
      'quote " and \\ backslash',
      'tab\tnew\nline\r\b\f',
      '\u0000\u001f\u007f',
      'Förderband °C',
      '€ 中文',
      '😀 pair',
      'lone \ud800 high',
      'lone \udc00 low',
      '\u2028\u2029',
      [],
      [1, 'a', null, undefined, () => 1],
      { a: undefined, b: () => 1, c: Symbol('x'), d: 1 },
      { nested: { deeper: [{ x: 'ü' }] }, '"key"': 'k' },
      new Date(0),
      { toJSON: () => 'custom' },
      Object.assign(Object.create(null) as object, { bare: 1 }),
      new Map([[1, 2]]),
      Object(5),
    ];
    for (const v of cases) expect(jsonBytes(v), JSON.stringify(v)).toBe(expected(v));
    expect(jsonBytes(undefined)).toBe(0);
    expect(() => jsonBytes(1n)).toThrow(TypeError);
  });

  it('matches JSON.stringify on random values (seeded)', () => {
    const seed = 2026;
    const random = seededRandom(seed);
    console.log(`[json-bytes] seed ${seed}`);
    const alphabet = ['a', 'Z', '9', ' ', '"', '\\', '\n', '\u0001', 'é', '€', '😀', '\ud83d', '\ude00', '\u2028'];
    const str = () =>
      Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(
        '',
      );
    const value = (depth: number): unknown => {
      const r = random();
      if (r < 0.2) return str();
      if (r < 0.35) return Math.floor((random() - 0.5) * 10 ** Math.floor(random() * 17));
      if (r < 0.45) return (random() - 0.5) * 10 ** Math.floor(random() * 30 - 15);
      if (r < 0.5) return random() < 0.5;
      if (r < 0.55) return null;
      if (r < 0.6) return undefined;
      if (depth > 3) return str();
      if (r < 0.8) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [str(), value(depth + 1)]));
    };
    for (let n = 0; n < 3000; n++) {
      const v = value(0);
      expect(jsonBytes(v), `seed ${seed}, case ${n}`).toBe(expected(v));
    }
  });
});

describe('jsonObjectBytes', () => {
  it('leaves out the skipped property, wherever it is', () => {
    expect(jsonObjectBytes({ a: 1, priority: 9, b: 'x' }, 'priority')).toBe(expected({ a: 1, b: 'x' }));
    expect(jsonObjectBytes({ priority: 9, a: 1 }, 'priority')).toBe(expected({ a: 1 }));
    expect(jsonObjectBytes({ priority: 9 }, 'priority')).toBe(2);
  });
});
