import type { PipelineMetricsSnapshot } from '@bifrost/core/host';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricsHistory } from '../src/http/history.js';

/** A metrics snapshot of one connector `a` at `time` with `sent` acknowledged points. */
function snapshot(time: number, sent: number, bytesSent?: number): PipelineMetricsSnapshot {
  return {
    time,
    devices: {},
    unrouted: 0,
    connectors: [
      {
        name: 'a',
        type: 'mqtt',
        ingested: sent,
        sent,
        failed: 0,
        retries: 0,
        deadLettered: 0,
        dropped: 0,
        batches: 0,
        failedBatches: 0,
        successRate: 1,
        recentSuccessRate: 1,
        queue: { depth: 7, inFlight: 0, oldestAgeSeconds: 1.5, deadLetters: 2 },
        breaker: 'closed',
        connected: true,
        ...(bytesSent === undefined ? {} : { bytesSent }),
      },
    ],
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MetricsHistory', () => {
  it('keeps the last window of samples, oldest first, with rates between neighbours', () => {
    let now = 0;
    let sent = 0;
    const history = new MetricsHistory(() => snapshot(now, sent, sent * 10), { intervalMs: 5_000, windowMs: 20_000 });
    for (let i = 0; i < 6; i++) {
      history.sample();
      now += 5_000;
      sent += 50 * (i + 1);
    }
    const { samples, intervalMs, windowMs } = history.report();
    expect({ intervalMs, windowMs }).toEqual({ intervalMs: 5_000, windowMs: 20_000 });
    expect(samples.map((s) => s.time)).toEqual([10_000, 15_000, 20_000, 25_000]);
    expect(samples.map((s) => s.connectors[0]?.sentPerSecond)).toEqual([20, 30, 40, 50]);
    expect(samples[3]?.connectors[0]).toMatchObject({
      name: 'a',
      sent: 750,
      bytesSent: 7_500,
      bytesPerSecond: 500,
      queueDepth: 7,
      oldestAgeSeconds: 1.5,
      deadLetters: 2,
      breaker: 'closed',
    });
  });

  it('the first sample has no rate', () => {
    const history = new MetricsHistory(() => snapshot(1_000, 10));
    history.sample();
    expect(history.report().samples[0]?.connectors[0]?.sentPerSecond).toBeUndefined();
  });

  it('samples at start and on an unref-ed timer until stopped', () => {
    vi.useFakeTimers();
    let sent = 0;
    const history = new MetricsHistory(() => snapshot(Date.now(), (sent += 5)), {
      intervalMs: 1_000,
      windowMs: 60_000,
    });
    history.start();
    expect(history.report().samples).toHaveLength(1);
    vi.advanceTimersByTime(3_000);
    expect(history.report().samples).toHaveLength(4);
    history.stop();
    vi.advanceTimersByTime(3_000);
    expect(history.report().samples).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0);
  });
});
