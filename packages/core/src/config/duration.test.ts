import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DurationError, durationSchema, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1_500],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    [' 10s ', 10_000],
    ['250', 250],
    [0, 0],
    [1234, 1234],
    [2.6, 3],
  ] as const)('%j -> %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', '5x', 's', '-5s', '5 s', '5sec', '5S', '1m30', 'ms5', '5mss'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(DurationError);
  });

  it('rejects negative and non-finite numbers', () => {
    expect(() => parseDuration(-1)).toThrow(/invalid duration -1/);
    expect(() => parseDuration(Number.NaN)).toThrow(DurationError);
    expect(() => parseDuration(Infinity)).toThrow(DurationError);
  });

  it('error carries a stable code and names the accepted forms', () => {
    try {
      parseDuration('5 minutes');
      expect.unreachable();
    } catch (e) {
      expect((e as DurationError).code).toBe('BIFROST_ERR_INVALID_DURATION');
      expect((e as Error).message).toContain('"5 minutes"');
      expect((e as Error).message).toContain('500ms, 5s, 2m');
    }
  });
});

describe('durationSchema', () => {
  const schema = z.object({ timeout: durationSchema.prefault('30s') });

  it('parses to milliseconds and applies string defaults', () => {
    expect(schema.parse({ timeout: '2m' })).toEqual({ timeout: 120_000 });
    expect(schema.parse({})).toEqual({ timeout: 30_000 });
  });

  it('reports the field path and the accepted forms', () => {
    const res = schema.safeParse({ timeout: '5 minutes' });
    expect(res.success).toBe(false);
    if (!res.success) {
      expect(res.error.issues[0]?.path).toEqual(['timeout']);
      expect(res.error.issues[0]?.message).toMatch(/invalid duration "5 minutes".*500ms, 5s, 2m or 1h/);
    }
    const wrongType = schema.safeParse({ timeout: true });
    expect(wrongType.success).toBe(false);
    if (!wrongType.success) expect(wrongType.error.issues[0]?.message).toMatch(/must be a duration/);
  });
});
