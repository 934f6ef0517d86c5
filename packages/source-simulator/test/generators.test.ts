import { describe, expect, it } from 'vitest';
import { createGenerator } from '../src/generators.js';
import { seededRandom } from '../src/random.js';
import { tagSchema } from '../src/schema.js';
import { steps } from './helpers.js';

const gen = (tag: Record<string, unknown>, seed = 1) =>
  createGenerator(tagSchema.parse({ name: 't', ...tag }), seededRandom(seed));
const series = (g: ReturnType<typeof gen>, n: number, stepMs: number, t0 = 1_700_000_000_000) =>
  Array.from({ length: n }, (_, i) => g(t0 + i * stepMs));

describe('generators', () => {
  it('sine stays within min..max, spans it, and repeats every period', () => {
    const g = gen({ generator: 'sine', min: 10, max: 20, period: '10s', phase: 0.25, decimals: 6 });
    const values = series(g, 1000, 10).map((s) => s.value as number);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...values)).toBeLessThanOrEqual(20);
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(9.99);
    const t = 1_700_000_000_123;
    expect(g(t).value as number).toBeCloseTo(g(t + 10_000).value as number, 5);
    expect(g(t).value as number).toBeCloseTo(30 - (g(t + 5_000).value as number), 5); // half a period: mirrored around 15
  });

  it('sine noise stays within its amplitude and values are rounded to decimals', () => {
    const g = gen({ generator: 'sine', min: 0, max: 0, noise: 0.5, decimals: 1 });
    const values = series(g, 500, 100).map((s) => s.value as number);
    expect(values.every((v) => Math.abs(v) <= 0.5 && Math.round(v * 10) / 10 === v)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(5);
  });

  it('random walk starts at start, moves at most step per sample and stays within bounds', () => {
    const g = gen({ generator: 'random_walk', start: 5, step: 0.5, min: 4, max: 6, decimals: 6 });
    const values = series(g, 5000, 100).map((s) => s.value as number);
    expect(values[0]).toBe(5);
    for (const step of steps(values)) expect(Math.abs(step)).toBeLessThanOrEqual(0.5 + 1e-9);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...values)).toBeLessThanOrEqual(6);
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(1.5); // it does wander
  });

  it('step holds each value for hold and cycles', () => {
    const g = gen({ generator: 'step', values: ['IDLE', 'RUNNING', 'FAULT'], hold: '1s' });
    const values = series(g, 6, 1000, 0).map((s) => s.value);
    expect(values).toEqual(['IDLE', 'RUNNING', 'FAULT', 'IDLE', 'RUNNING', 'FAULT']);
    expect(g(1999).value).toBe('RUNNING');
  });

  it('counter increments per sample and wraps after max', () => {
    const g = gen({ generator: 'counter', start: 1, increment: 2, max: 7 });
    expect(series(g, 6, 1).map((s) => s.value)).toEqual([1, 3, 5, 7, 1, 3]);
    const down = gen({ generator: 'counter', start: 10, increment: -5, max: 0 });
    expect(series(down, 4, 1).map((s) => s.value)).toEqual([10, 5, 0, 10]);
  });

  it('toggle flips every period', () => {
    const g = gen({ generator: 'toggle', period: '2s', initial: true });
    expect(series(g, 8, 1000, 0).map((s) => s.value)).toEqual([true, true, false, false, true, true, false, false]);
  });

  it('alarm bursts last `duration`, carry quality ALARM, and come about every `every`', () => {
    const g = gen({ generator: 'alarm_burst', every: '10s', duration: '2s', normal: 0, alarm: 99 }, 7);
    const samples = series(g, 200_000, 100); // about 5.5 hours of samples at 10/s
    const alarms = samples.filter((s) => s.quality === 'ALARM');
    expect(alarms.every((s) => s.value === 99)).toBe(true);
    expect(samples.filter((s) => s.quality === undefined).every((s) => s.value === 0)).toBe(true);
    // Bursts: runs of ALARM samples, each 2 s long (20 samples, give or take one at the edges).
    const runs: number[] = [];
    let run = 0;
    for (const s of samples) {
      if (s.quality === 'ALARM') run++;
      else if (run) {
        runs.push(run);
        run = 0;
      }
    }
    // Two bursts can follow each other closely enough to merge; never shorter than one burst.
    expect(runs.every((r) => r >= 19)).toBe(true);
    expect(runs.filter((r) => r <= 21).length / runs.length).toBeGreaterThan(0.95);
    // On average one burst per every + duration = 12 s: ~1667 bursts in 20,000 s.
    expect(runs.length).toBeGreaterThan(1350);
    expect(runs.length).toBeLessThan(1950);
  });

  it('is reproducible for a seed and differs between seeds', () => {
    const a = series(gen({ generator: 'random_walk' }, 3), 50, 1).map((s) => s.value);
    const b = series(gen({ generator: 'random_walk' }, 3), 50, 1).map((s) => s.value);
    const c = series(gen({ generator: 'random_walk' }, 4), 50, 1).map((s) => s.value);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});
