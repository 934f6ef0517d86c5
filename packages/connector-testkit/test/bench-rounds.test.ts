import { describe, expect, it } from 'vitest';
import { alternate, compareRounds, spread } from '../src/bench/rounds.js';

describe('bench rounds', () => {
  it('spread gives the lower middle of an even count and the range', () => {
    expect(spread([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2, min: 1, max: 4 });
    expect(() => spread([])).toThrow(/no samples/);
  });

  it('alternate runs the sides in turn, round after round', async () => {
    const order: string[] = [];
    const s = await alternate(3, {
      ours: () => (order.push('ours'), order.length),
      baseline: () => Promise.resolve((order.push('baseline'), order.length)),
    });
    expect(order).toEqual(['ours', 'baseline', 'ours', 'baseline', 'ours', 'baseline']);
    expect(s).toEqual({ ours: [1, 3, 5], baseline: [2, 4, 6] });
  });

  it('compareRounds reports medians, ranges, the ratio of medians and the range of per-round ratios', () => {
    const c = compareRounds('x', [100, 300, 200], [100, 100, 400], { note: 'n' });
    expect(c).toMatchObject({
      case: 'x',
      points_per_s: 200,
      points_per_s_min: 100,
      points_per_s_max: 300,
      baseline_points_per_s: 100,
      baseline_points_per_s_min: 100,
      baseline_points_per_s_max: 400,
      ratio: 2,
      ratio_min: 0.5,
      ratio_max: 3,
      rounds: 3,
      note: 'n',
    });
    expect(() => compareRounds('y', [1], [1, 2])).toThrow(/1 rounds of ours, 2 of baseline/);
  });
});
