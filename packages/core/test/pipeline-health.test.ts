import { describe, expect, it } from 'vitest';
import { AuthError, TransientError } from '../src/index.js';
import { DeviceStats } from '../src/pipeline/device-stats.js';
import { HealthTracker } from '../src/pipeline/health-tracker.js';

describe('HealthTracker', () => {
  it('walks connecting -> healthy -> degraded (retrying) -> healthy, with reasons', () => {
    const t = new HealthTracker('plant-a', 'mqtt');
    expect(t.snapshot({ breaker: 'closed' })).toMatchObject({
      status: 'degraded',
      reason: 'connecting',
      connected: false,
      successRate: 1,
    });
    t.connectSucceeded();
    t.writeSucceeded(10, 1_000);
    expect(t.snapshot({ breaker: 'closed' })).toMatchObject({
      status: 'healthy',
      lastSuccessAt: 1_000,
      responseTimeMs: 10,
    });
    t.writeFailed(new TransientError('reset'), 2_000);
    const s = t.snapshot({ breaker: 'closed' });
    expect(s).toMatchObject({
      status: 'degraded',
      consecutiveFailures: 1,
      errorCount: 1,
      lastFailureAt: 2_000,
      successRate: 0.5,
    });
    expect(s.reason).toMatch(/retrying after 1 failure\(s\): reset/);
    t.writeSucceeded(30, 3_000);
    expect(t.snapshot({ breaker: 'closed' })).toMatchObject({
      status: 'healthy',
      consecutiveFailures: 0,
      errorCount: 1,
    });
  });

  it('is unhealthy while the breaker is open or the queue cannot write, and names why', () => {
    const t = new HealthTracker('plant-a', 'mqtt');
    t.connectFailed(new AuthError('bad password'));
    expect(t.snapshot({ breaker: 'open' }).reason).toMatch(/circuit breaker open \(auth error.*bad password/);
    expect(t.snapshot({ breaker: 'half-open' }).status).toBe('degraded');
    expect(t.snapshot({ breaker: 'closed', queueProblem: 'disk full' })).toMatchObject({
      status: 'unhealthy',
      reason: 'queue: disk full',
    });
  });

  it('reports a failed probe and a poor recent success rate as degraded', () => {
    const t = new HealthTracker('a', 'mqtt');
    t.connectSucceeded();
    t.probeResult(false, 'ping timeout');
    expect(t.snapshot({ breaker: 'closed' })).toMatchObject({
      status: 'degraded',
      reason: 'health check failed: ping timeout',
    });
    t.probeResult(true);
    for (let i = 0; i < 10; i++) {
      t.writeFailed(new TransientError('x'));
      t.writeSucceeded(1);
    }
    const s = t.snapshot({ breaker: 'closed' });
    expect(s).toMatchObject({ status: 'degraded', reason: 'recent success rate 50%', recentSuccessRate: 0.5 });
  });

  it('computes average and p99 response time over the recent window', () => {
    const t = new HealthTracker('a', 'mqtt');
    for (let i = 1; i <= 100; i++) t.writeSucceeded(i);
    const s = t.snapshot({ breaker: 'closed' });
    expect(s.responseTimeMs).toBeCloseTo(50.5);
    expect(s.p99ResponseTimeMs).toBe(99);
  });
});

describe('DeviceStats', () => {
  const point = (deviceId: string) => ({ id: 'x', deviceId, tagName: 't', value: 1, quality: 'GOOD', timestamp: 0 });

  it('counts points and last sight per device', () => {
    const d = new DeviceStats();
    d.record([point('a'), point('a'), point('b')], 1_000);
    d.record([point('a')], 2_000);
    expect(d.snapshot()).toEqual({ a: { ingested: 3, lastSeen: 2_000 }, b: { ingested: 1, lastSeen: 1_000 } });
  });

  it('forgets the least recently seen device beyond its bound', () => {
    const d = new DeviceStats(2);
    d.record([point('a'), point('b')], 1);
    d.record([point('a')], 2);
    d.record([point('c')], 3);
    expect(Object.keys(d.snapshot()).sort()).toEqual(['a', 'c']);
  });
});
