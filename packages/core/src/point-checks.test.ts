import { describe, expect, it } from 'vitest';
import { nameProblem } from './point-checks.js';

describe('nameProblem', () => {
  it('accepts ordinary names, non-ASCII letters and paired surrogates', () => {
    for (const ok of ['PLC001', 'Kessel/Temperatur', 'température', '温度', 'pump 🚀', 'a'.repeat(256)])
      expect(nameProblem(ok)).toBeUndefined();
  });

  it.each([
    ['x\u0001y', 'U+0001'],
    ['tab\there', 'U+0009'],
    ['del\u007f', 'U+007F'],
    ['c1\u0085', 'U+0085'],
    ['c1\u009f', 'U+009F'],
    ['nc\ufdd0', 'U+FDD0'],
    ['nc\ufffe', 'U+FFFE'],
    ['nc\uffff', 'U+FFFF'],
    ['plane1\u{1fffe}', 'U+1FFFE'],
    ['lone\ud800', 'U+D800'],
    ['\udc00lone', 'U+DC00'],
  ])('refuses %j, naming %s', (name, code) => {
    expect(nameProblem(name)).toContain(code);
  });

  it('refuses a name over the maximum length', () => {
    expect(nameProblem('abcdef', 5)).toBe('is longer than 5 characters');
  });
});
