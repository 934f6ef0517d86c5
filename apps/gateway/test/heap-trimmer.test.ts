import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { startHeapTrimmer, type HeapTrimmer } from '../src/heap-trimmer.js';

let trimmer: HeapTrimmer | undefined;
afterEach(() => trimmer?.stop());

describe('heap trimmer', () => {
  it('leaves a busy process alone, then collects the garbage of a burst once it is quiet', async () => {
    trimmer = startHeapTrimmer({ intervalMs: 100, growthBytes: 8 * 1_048_576, quietUtilization: 0.2 });
    // Busy: the event loop works ~80% of the time while the heap grows by 600,000 live objects.
    let held: unknown[][] = [];
    for (let round = 0; round < 6; round++) {
      const until = Date.now() + 80;
      for (let k = 0; k < 100; k++) held.push(Array.from({ length: 1000 }, (_, i) => ({ i, s: `x${i}` })));
      while (Date.now() < until);
      await sleep(20);
    }
    expect(trimmer.trims).toBe(0);
    const grown = getHeapStatistics().total_heap_size;
    held = [];
    await sleep(600);
    expect(trimmer.trims).toBeGreaterThanOrEqual(1);
    expect(held).toEqual([]);
    expect(getHeapStatistics().total_heap_size).toBeLessThan(grown - 16 * 1_048_576);
  });

  it('trims once when first quiet after it starts (the garbage of startup), then only after new growth', async () => {
    trimmer = startHeapTrimmer({ intervalMs: 100, growthBytes: 64 * 1_048_576, quietUtilization: 0.2 });
    for (const until = Date.now() + 3000; trimmer.trims === 0 && Date.now() < until;) await sleep(50);
    expect(trimmer.trims).toBe(1);
    await sleep(500);
    expect(trimmer.trims).toBe(1);
  });

  it('after growth, waits until the process has been quiet for settleMs before trimming again', async () => {
    trimmer = startHeapTrimmer({ intervalMs: 100, growthBytes: 8 * 1_048_576, quietUtilization: 0.2, settleMs: 1500 });
    for (const until = Date.now() + 3000; trimmer.trims === 0 && Date.now() < until;) await sleep(50);
    expect(trimmer.trims).toBe(1);
    // A burst: the heap (and the resident memory) grows by well over growthBytes, then the process is quiet.
    let held: unknown[][] = [];
    for (let k = 0; k < 400; k++) held.push(Array.from({ length: 1000 }, (_, i) => ({ i, s: `x${i}` })));
    held = [];
    const quietFrom = Date.now();
    await sleep(900);
    expect(trimmer.trims).toBe(1);
    for (const until = Date.now() + 3000; trimmer.trims === 1 && Date.now() < until;) await sleep(50);
    expect(trimmer.trims).toBe(2);
    expect(Date.now() - quietFrom).toBeGreaterThanOrEqual(1400);
    expect(held).toEqual([]);
  });
});
