import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthError, PartialWriteError, PayloadError, TransientError } from '../src/index.js';
import {
  ConnectorBreaker,
  connectorDeliveryDefaults,
  DEFAULT_DELIVERY_OPTIONS,
  RetrySchedule,
  resolveDeliveryOptions,
} from '../src/host.js';
import { planPoison } from '../src/pipeline/settle-plan.js';
import { withTimeout } from '../src/pipeline/timeout.js';
import { take } from './nth.js';
import { makePoints } from './pipeline-fixtures/scripted-connector.js';

const caps = { ordering: 'none' as const, maxBatch: 500 };

describe('RetrySchedule (exponential backoff, full jitter)', () => {
  const policy = { initialDelayMs: 100, multiplier: 3, maxDelayMs: 2_000, maxElapsedMs: 0 };

  it('grows by the multiplier up to the cap when the jitter draws its maximum', () => {
    const s = new RetrySchedule(policy, () => 0.9999);
    expect([1, 2, 3, 4, 5].map(() => s.nextDelay())).toEqual([99, 299, 899, 1999, 1999]);
    expect(s.consecutiveFailures).toBe(5);
  });

  it('jitters from the first retry on and restarts after reset', () => {
    const s = new RetrySchedule(policy, () => 0.5);
    expect(s.nextDelay()).toBe(50);
    expect(s.nextDelay()).toBe(150);
    s.reset();
    expect(s.consecutiveFailures).toBe(0);
    expect(s.nextDelay()).toBe(50);
  });

  it('spreads a fleet: first delays differ across schedules', () => {
    const firsts = new Set(Array.from({ length: 20 }, () => new RetrySchedule(policy).nextDelay()));
    expect(firsts.size).toBeGreaterThan(10);
    expect(Math.min(...firsts)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...firsts)).toBeLessThan(100);
  });

  it('waits at least a server-given retry-after', () => {
    const s = new RetrySchedule(policy, () => 0);
    expect(s.nextDelay(1_500)).toBe(1_500);
    expect(s.nextDelay()).toBe(0);
  });
});

describe('ConnectorBreaker', () => {
  afterEach(() => vi.useRealTimers());
  const failWith = (b: ConnectorBreaker, err: Error) => b.execute(() => Promise.reject(err)).catch(() => undefined);

  it('opens after failureThreshold consecutive failures, half-opens after resetMs, closes on success', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const states: string[] = [];
    const b = new ConnectorBreaker({ failureThreshold: 3, resetMs: 5_000 }, (s) => states.push(s));
    await failWith(b, new TransientError('x'));
    await failWith(b, new TransientError('x'));
    expect(b.state).toBe('closed');
    await failWith(b, new TransientError('x'));
    expect(b.state).toBe('open');
    expect(b.trialAt).toBe(1_005_000);
    expect(b.admits()).toBe(false);
    await expect(b.execute(() => Promise.resolve(1))).rejects.toThrow(/open/i);
    vi.setSystemTime(1_005_000);
    expect(b.admits()).toBe(true);
    await expect(b.execute(() => Promise.resolve(42))).resolves.toBe(42);
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens at once on an auth error, and a poison point does not count as a failure', async () => {
    const b = new ConnectorBreaker({ failureThreshold: 2, resetMs: 1_000 });
    await failWith(b, new PayloadError('bad value'));
    await failWith(b, new PayloadError('bad value'));
    expect(b.state).toBe('closed');
    await failWith(b, new AuthError('bad password'));
    expect(b.state).toBe('open');
  });

  it('a success resets the consecutive count', async () => {
    const b = new ConnectorBreaker({ failureThreshold: 2, resetMs: 1_000 });
    await failWith(b, new TransientError('x'));
    await b.execute(() => Promise.resolve());
    await failWith(b, new TransientError('x'));
    expect(b.state).toBe('closed');
  });
});

describe('resolveDeliveryOptions', () => {
  it('fills defaults and caps batchSize at maxBatch', () => {
    expect(resolveDeliveryOptions(undefined, { ...caps, maxBatch: 10_000 }, 'mqtt:a')).toEqual(
      DEFAULT_DELIVERY_OPTIONS,
    );
    // The default batch of 1000 is capped too: a connector that takes at most 500 gets 500.
    expect(resolveDeliveryOptions(undefined, caps, 'mqtt:a')).toEqual({ ...DEFAULT_DELIVERY_OPTIONS, batchSize: 500 });
    const o = resolveDeliveryOptions(
      { batchSize: 5_000, maxInFlight: 8, retry: { maxDelayMs: 5_000 } },
      { ...caps, ordering: 'per-device' },
      'mqtt:a',
    );
    expect(o).toMatchObject({ batchSize: 500, maxInFlight: 8, retry: { initialDelayMs: 1_000, maxDelayMs: 5_000 } });
  });

  it("takes the connector's own default of batches in flight, which the config still overrides", () => {
    const own = { ...caps, defaultMaxInFlight: 8 };
    expect(resolveDeliveryOptions(undefined, own, 'http:a').maxInFlight).toBe(8);
    expect(resolveDeliveryOptions({ batchSize: 100 }, own, 'http:a')).toEqual({
      ...DEFAULT_DELIVERY_OPTIONS,
      batchSize: 100,
      maxInFlight: 8,
    });
    expect(resolveDeliveryOptions({ maxInFlight: 3 }, own, 'http:a').maxInFlight).toBe(3);
    expect(connectorDeliveryDefaults(caps)).toBe(DEFAULT_DELIVERY_OPTIONS);
    expect(() => resolveDeliveryOptions(undefined, { ...caps, defaultMaxInFlight: 0 }, 'x:a')).toThrow(
      /delivery\.maxInFlight/,
    );
  });

  it('names the connector and the field at fault', () => {
    let err: unknown;
    try {
      resolveDeliveryOptions({ retry: { multiplier: 0.5 } }, caps, 'mqtt:plant-a');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'config', code: 'BIFROST_ERR_DELIVERY_OPTIONS' });
    expect((err as Error).message).toMatch(
      /^\[bifrost\] \[mqtt:plant-a\] invalid delivery options: delivery\.retry\.multiplier/,
    );
  });
});

describe('planPoison', () => {
  const points = makePoints(4);
  const [a, b, c, d] = take(
    points.map((p) => p.id),
    4,
  );

  it('dead-letters only the named points of a PayloadError and releases the rest', () => {
    const plan = planPoison(points, new PayloadError('too big', [b, 'not-in-batch']));
    expect(plan.outcome).toEqual({
      acked: [],
      deadLetter: [{ id: b, code: 'BIFROST_ERR_PAYLOAD', reason: 'too big' }],
    });
    expect(plan).toMatchObject({ acked: 0, deadLettered: 1, released: 3 });
  });

  it('dead-letters the whole batch for a PayloadError without ids', () => {
    expect(planPoison(points, new PayloadError('schema mismatch')).deadLettered).toBe(4);
  });

  it('never acks a point that was also rejected, or one from outside the batch', () => {
    const err = new PartialWriteError(
      [a, b, 'x'],
      [
        { id: b, reason: 'dup reject' },
        { id: c, reason: 'slow', kind: 'transient' },
      ],
    );
    const plan = planPoison(points, err);
    expect(plan.outcome.acked).toEqual([a]);
    expect(plan.outcome.deadLetter).toEqual([{ id: b, code: 'BIFROST_ERR_PAYLOAD', reason: 'dup reject' }]);
    expect(plan.released).toBe(2); // c (transient) and d (not mentioned)
    expect([...plan.outcome.acked, ...(plan.outcome.deadLetter ?? []).map((x) => x.id)]).not.toContain(d);
  });
});

describe('withTimeout', () => {
  it('turns a synchronous throw of a plugin method into a rejection', async () => {
    await expect(
      withTimeout(
        () => {
          throw new Error('boom');
        },
        50,
        'write',
        'X',
      ),
    ).rejects.toThrow('boom');
  });

  it('times out with a TransientError carrying the code, and swallows the late result', async () => {
    let lateReject: (e: Error) => void = () => undefined;
    const hung = new Promise<void>((_, reject) => (lateReject = reject));
    await expect(withTimeout(() => hung, 20, 'write of 3 point(s)', 'BIFROST_ERR_WRITE_TIMEOUT')).rejects.toMatchObject(
      {
        kind: 'transient',
        code: 'BIFROST_ERR_WRITE_TIMEOUT',
        message: 'write of 3 point(s) timed out after 20 ms',
      },
    );
    lateReject(new Error('late failure')); // must not become an unhandled rejection
    await new Promise((r) => setTimeout(r, 10));
  });
});
