import { describe, expect, it } from 'vitest';
import { nextPointId } from './point-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('nextPointId', () => {
  it('is a UUIDv7 carrying the millisecond it was made in', () => {
    const id = nextPointId(1_700_000_000_123);
    expect(id).toMatch(UUID_V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(1_700_000_000_123);
  });

  it('strictly increases within a millisecond, across milliseconds and when the clock steps back', () => {
    const clock = [2_000_000_000_000, 2_000_000_000_000, 2_000_000_000_001, 1_999_999_999_000, 2_000_000_000_001];
    const ids: string[] = [];
    for (const ms of clock) for (let i = 0; i < 1000; i++) ids.push(nextPointId(ms));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('nextPointId counter digits', () => {
  it('carries into the high digits every 4096 ids', () => {
    const ids = Array.from({ length: 20_000 }, () => nextPointId(2_100_000_000_000));
    const counters = ids.map((id) => parseInt(id.slice(24), 16));
    counters.forEach((c, i) => i > 0 && expect(c).toBe((counters[i - 1] ?? 0) + 1));
  });
});
