import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PublishRateLimiter } from '../src/index.js';

describe('PublishRateLimiter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('paces 300 publishes over about 2 s after the first 100', async () => {
    const limiter = new PublishRateLimiter(100, 1e9, () => Date.now());
    let granted = 0;
    for (let i = 0; i < 300; i++) void limiter.take(10).then(() => granted++);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(100);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(granted).toBeGreaterThanOrEqual(198);
    expect(granted).toBeLessThanOrEqual(201);
    await vi.advanceTimersByTimeAsync(1_010);
    expect(granted).toBe(300);
  });

  it('paces by bytes per second too', async () => {
    const limiter = new PublishRateLimiter(1_000, 1_000, () => Date.now());
    let granted = 0;
    for (let i = 0; i < 10; i++) void limiter.take(500).then(() => granted++);
    // 10 messages of 500 bytes at 1,000 bytes/s: two at once, then two per second.
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(2);
    await vi.advanceTimersByTimeAsync(2_010);
    expect(granted).toBe(6);
  });

  it('drain() releases every waiter', async () => {
    const limiter = new PublishRateLimiter(1, 1e9, () => Date.now());
    let granted = 0;
    for (let i = 0; i < 5; i++) void limiter.take(1).then(() => granted++);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(1);
    limiter.drain();
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(5);
  });
});
