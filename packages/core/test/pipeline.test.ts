import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthError,
  CapacityError,
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  defineConnector,
} from '../src/index.js';
import { QueueFullError, createPipeline, openSqliteQueue, type DurableQueue, type Pipeline } from '../src/host.js';
import {
  QUEUE_KINDS,
  closeQueues,
  delay,
  harness,
  nth,
  openQueue,
  useQueue,
  waitFor,
  type Harness,
} from './pipeline-fixtures/harness.js';
import {
  ScriptedConnector,
  fail,
  hang,
  held,
  makePoints,
  scriptedDefinition,
  times,
  type Step,
} from './pipeline-fixtures/scripted-connector.js';

let running: Pipeline[] = [];
/** What `fn` throws (failing the test when it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function started<K extends string>(h: Harness<K>): Harness<K> {
  h.pipeline.start();
  running.push(h.pipeline);
  return h;
}
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop({ deadlineMs: 200 })));
  running = [];
  await closeQueues();
});

async function counter(h: Harness, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await h.pipeline.registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((s, v) => s + v.value, 0);
}

/** Every point was acked by the queue exactly once, and only after the connector acknowledged it. */
function expectExactlyDelivered(h: Harness, ids: string[], connector = 'a'): void {
  const c = h.connectors[connector];
  expect(h.audit.violations).toEqual([]);
  expect(new Set(h.audit.acked)).toEqual(new Set(ids));
  expect(h.audit.acked).toHaveLength(ids.length);
  for (const id of h.audit.acked) expect(c?.ackedIds().has(id)).toBe(true);
  expect(h.queue.stats(connector).points).toBe(0);
}

/** What a fake clock replaces: timers and Date. setImmediate stays real (the SQLite queue's group commit). */
const FAKE_CLOCK = { toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] } as const;

describe.each(QUEUE_KINDS)('pipeline on the %s queue', (kind) => {
  beforeAll(() => useQueue(kind));

  describe('delivery pipeline: happy path and batching', () => {
    it('delivers every point in batches of at most batchSize and counts them', async () => {
      const h = started(await harness());
      const points = makePoints(95);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 95);
      expectExactlyDelivered(
        h,
        points.map((p) => p.id),
      );
      const c = h.connectors.a;
      expect(Math.max(...c.received.map((b) => b.length))).toBeLessThanOrEqual(10);
      expect(await counter(h, 'bifrost_cloud_data_points_sent_total', { connector: 'a', type: 'scripted' })).toBe(
        c.ackedIds().size,
      );
      expect(await counter(h, 'bifrost_cloud_batch_operations_total', { result: 'success' })).toBe(c.received.length);
      expect(await counter(h, 'bifrost_cloud_points_ingested_total')).toBe(95);
      expect(await counter(h, 'bifrost_cloud_connection_attempts_total', { result: 'success' })).toBe(1);
    });

    it('sends a full batch at once but waits up to flushIntervalMs to fill a partial one (fake clock)', async () => {
      vi.useFakeTimers({ toFake: [...FAKE_CLOCK.toFake] });
      try {
        const flushIntervalMs = 2_000;
        const h = started(await harness({ a: { delivery: { batchSize: 10, flushIntervalMs } } }));
        await vi.waitFor(() => expect(h.connectors.a.connects).toBe(1), { interval: 1 });
        const t0 = Date.now();
        await h.pipeline.ingest(makePoints(10));
        await vi.waitFor(() => expect(h.audit.acked).toHaveLength(10), { interval: 1 });
        // A full batch does not wait for the clock.
        expect(nth(h.connectors.a.writeTimes, 0) - t0).toBeLessThan(10);

        const t1 = Date.now();
        await h.pipeline.ingest(makePoints(3));
        await vi.advanceTimersByTimeAsync(flushIntervalMs - 1);
        expect(h.connectors.a.received).toHaveLength(1); // a partial batch waits for more ...
        await vi.waitFor(() => expect(h.audit.acked).toHaveLength(13), { interval: 1 });
        // ... until the oldest of its points has waited the flush interval, and no longer.
        expect(nth(h.connectors.a.writeTimes, 1) - t1).toBeGreaterThanOrEqual(flushIntervalMs);
        expect(nth(h.connectors.a.writeTimes, 1) - t1).toBeLessThan(flushIntervalMs + 10);
        expect(h.connectors.a.received.map((b) => b.length)).toEqual([10, 3]);
      } finally {
        vi.useRealTimers();
      }
    });
  });

  describe('delivery pipeline: failures', () => {
    it('retries transient errors with backoff, reconnecting, and acks only after success', async () => {
      const netErr = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      const h = started(
        await harness({
          a: {
            write: [fail(new TransientError('broker restarting')), fail(netErr), fail(new TransientError('again'))],
            // The whole batch is retried in place (with isolation on, its halves would be: pipeline-poison.test.ts).
            delivery: { poison: { isolate: false } },
          },
        }),
      );
      const points = makePoints(10);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 10);
      expectExactlyDelivered(
        h,
        points.map((p) => p.id),
      );
      const c = h.connectors.a;
      expect(c.received).toHaveLength(4);
      expect(c.connects).toBe(4); // initial + one reconnect after each transient failure
      expect(await counter(h, 'bifrost_cloud_retries_total')).toBe(3);
      expect(await counter(h, 'bifrost_cloud_data_points_failed_total')).toBe(30);
      expect(await counter(h, 'bifrost_cloud_batch_operations_total', { result: 'failure' })).toBe(3);
      const [health] = h.pipeline.health();
      expect(health).toMatchObject({ status: 'healthy', connected: true, errorCount: 3, consecutiveFailures: 0 });
      expect(health?.successRate).toBeCloseTo(0.25);
      expect(health?.lastError?.code).toBe('BIFROST_ERR_TRANSIENT');
    });

    it('jitters the first retry too (full jitter: a uniform draw below initialDelayMs; fake clock)', async () => {
      const random = vi.spyOn(Math, 'random').mockReturnValue(0.05);
      vi.useFakeTimers({ toFake: [...FAKE_CLOCK.toFake] });
      try {
        const h = started(
          await harness({
            a: {
              write: [fail(new TransientError('reset'))],
              delivery: { retry: { initialDelayMs: 4_000, maxDelayMs: 4_000 } },
            },
          }),
        );
        await h.pipeline.ingest(makePoints(3));
        await vi.waitFor(() => expect(h.audit.acked).toHaveLength(3), { interval: 1 });
        const gap = nth(h.connectors.a.writeTimes, 1) - nth(h.connectors.a.writeTimes, 0);
        expect(gap).toBeGreaterThanOrEqual(200); // 0.05 * 4000, not the un-jittered 4000
        expect(gap).toBeLessThan(210);
      } finally {
        vi.useRealTimers();
        random.mockRestore();
      }
    });

    it('honours a CapacityError retry-after without reconnecting', async () => {
      const h = started(await harness({ a: { write: [fail(new CapacityError('rate limited', 250))] } }));
      await h.pipeline.ingest(makePoints(5));
      await waitFor(() => h.audit.acked.length === 5);
      const c = h.connectors.a;
      expect(c.received).toHaveLength(2);
      expect(c.connects).toBe(1);
      const gaps = h.logger.records.filter((r) => r.code === 'BIFROST_ERR_CAPACITY');
      expect(gaps).toHaveLength(1);
      expect(nth(c.writeTimes, 1) - nth(c.writeTimes, 0)).toBeGreaterThanOrEqual(245);
    });

    it('opens the breaker at once on an auth error, keeps the data queued, and recovers through a half-open trial', async () => {
      const h = started(
        await harness({
          a: {
            write: [fail(new AuthError('not authorized'))],
            delivery: { breaker: { failureThreshold: 50, resetMs: 300 } },
          },
        }),
      );
      const points = makePoints(8);
      await h.pipeline.ingest(points);
      await waitFor(() => h.pipeline.health()[0]?.breaker === 'open');
      const [health] = h.pipeline.health();
      expect(health?.status).toBe('unhealthy');
      expect(health?.reason).toMatch(/auth error/);
      expect(health?.reason).toMatch(/not authorized/);
      expect(h.queue.stats('a').points).toBe(8);
      expect(h.audit.acked).toEqual([]);
      expect(await counter(h, 'bifrost_cloud_breaker_state')).toBe(2);
      await waitFor(() => h.audit.acked.length === 8);
      expectExactlyDelivered(
        h,
        points.map((p) => p.id),
      );
      const transitions = h.logger.records.filter((r) => r.breaker);
      expect(transitions.map((r) => r.breaker)).toEqual(['open', 'half-open', 'closed']);
      // No blind retry: nothing was written while open, and the trial came no earlier than resetMs.
      const times = transitions.map((r) => r.time as number);
      const openedAt = nth(times, 0);
      const trialAt = nth(times, 1);
      expect(h.connectors.a.writeTimes.filter((t) => t > openedAt && t < trialAt)).toEqual([]);
      expect(trialAt - openedAt).toBeGreaterThanOrEqual(295);
      expect(h.connectors.a.received).toHaveLength(2);
      expect(h.pipeline.health()[0]?.breaker).toBe('closed');
      expect(await counter(h, 'bifrost_cloud_breaker_state')).toBe(0);
      expect(await counter(h, 'bifrost_cloud_retries_total')).toBe(1); // the trial re-sent the batch
    });

    it('resetBreaker closes an open breaker and delivers at once, without waiting for the trial', async () => {
      const h = started(
        await harness({
          a: {
            write: [fail(new AuthError('not authorized'))],
            delivery: { breaker: { failureThreshold: 50, resetMs: 60_000 } },
          },
        }),
      );
      expect(h.pipeline.resetBreaker('a')).toBe(false);
      const points = makePoints(8);
      await h.pipeline.ingest(points);
      await waitFor(() => h.pipeline.health()[0]?.breaker === 'open');
      const trialAt = nth(h.pipeline.metricsSnapshot().connectors, 0).breakerTrialAt!;
      expect(trialAt).toBeGreaterThan(Date.now() + 50_000);

      expect(h.pipeline.resetBreaker('a')).toBe(true);
      await waitFor(() => h.audit.acked.length === 8);
      expectExactlyDelivered(
        h,
        points.map((p) => p.id),
      );
      expect(h.pipeline.metricsSnapshot().connectors[0]).toMatchObject({ breaker: 'closed' });
      expect(h.pipeline.metricsSnapshot().connectors[0]?.breakerTrialAt).toBeUndefined();
      // The operator's reset reads as open -> closed: no half-open trial, no isolated state.
      expect(h.logger.records.filter((r) => r.breaker).map((r) => r.breaker)).toEqual(['open', 'closed']);
      expect(() => h.pipeline.resetBreaker('nope')).toThrow(/unknown connector "nope"/);
    });

    it('opens the breaker after failureThreshold consecutive transient failures, and reopens on a failed trial', async () => {
      const h = started(
        await harness({
          a: {
            write: times(4, fail(new TransientError('down'))),
            // Whole-batch trials (with isolation on, the trials are its parts: pipeline-poison.test.ts).
            delivery: { breaker: { failureThreshold: 3, resetMs: 100 }, poison: { isolate: false } },
          },
        }),
      );
      const points = makePoints(4);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 4);
      expectExactlyDelivered(
        h,
        points.map((p) => p.id),
      );
      const transitions = h.logger.records.filter((r) => r.breaker);
      // 3 failures open it; the 4th failure is the half-open trial (reopens); the 5th write closes it.
      expect(transitions.map((r) => r.breaker)).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
      expect(h.connectors.a.received).toHaveLength(5);
      // Each trial is a write, admitted no earlier than resetMs after the breaker opened.
      const at = transitions.map((r) => r.time as number);
      const [open1, trial1, open2, trial2] = [nth(at, 0), nth(at, 1), nth(at, 2), nth(at, 3)];
      const writes = h.connectors.a.writeTimes;
      expect(trial1 - open1).toBeGreaterThanOrEqual(95);
      expect(trial2 - open2).toBeGreaterThanOrEqual(95);
      expect(writes.filter((t) => (t > open1 && t < trial1) || (t > open2 && t < trial2))).toEqual([]);
    });

    it('hands a batch back to the queue after retrying it for maxElapsedMs, so newer urgent points can go first', async () => {
      const urgent = { ...nth(makePoints(1), 0), priority: 9 };
      let urgentDone = false;
      // The link "recovers" only for the batch carrying the urgent point (and for everything after it).
      const untilUrgent: Step = (batch) => {
        if (batch.some((p) => p.id === urgent.id)) urgentDone = true;
        else if (!urgentDone) return Promise.reject(new TransientError('flaky'));
        return Promise.resolve();
      };
      const h = started(
        await harness({
          a: {
            write: times(200, untilUrgent),
            delivery: { batchSize: 5, retry: { initialDelayMs: 10, maxDelayMs: 10, maxElapsedMs: 25 } },
          },
        }),
      );
      const points = makePoints(5);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.releases >= 1);
      await h.pipeline.ingest([urgent], { connector: 'a' });
      await waitFor(() => h.audit.acked.length === 6);
      expectExactlyDelivered(
        h,
        [...points, urgent].map((p) => p.id),
      );
      const firstOk = h.connectors.a.received.find((b) => b.some((p) => p.id === urgent.id))!;
      expect(firstOk[0]?.id).toBe(urgent.id); // leased first: its lane outranks the released batch
      expect(h.audit.acked[0]).toBe(urgent.id);
    });

    it('dead-letters a poison point with its reason and delivers the rest', async () => {
      const points = makePoints(5);
      const poison = nth(points, 2).id;
      const h = started(await harness({ a: { write: [fail(new PayloadError('value is not a number', [poison]))] } }));
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 4 && h.audit.deadLettered.length === 1);
      expect(h.queue.stats('a').points).toBe(0);
      expect(h.audit.deadLettered).toEqual([
        {
          id: poison,
          code: 'BIFROST_ERR_PAYLOAD',
          reason: expect.stringContaining('value is not a number') as unknown,
        },
      ]);
      expect(h.audit.deadLettered[0]?.reason).toContain('[bifrost] [scripted:a]');
      const dead = await h.queue.listDeadLetters({ connector: 'a' });
      expect(dead.map((d) => d.point.id)).toEqual([poison]);
      expect(new Set(h.audit.acked)).toEqual(new Set(points.filter((p) => p.id !== poison).map((p) => p.id)));
      expect(await counter(h, 'bifrost_cloud_dead_letter_total', { code: 'BIFROST_ERR_PAYLOAD' })).toBe(1);
      expect(h.audit.violations).toEqual([]);
    });

    it('on a partial write acks the accepted, dead-letters the rejected and retries transient rejections', async () => {
      const points = makePoints(4);
      const ids = points.map((p) => p.id);
      const [a, b, c, d] = [nth(ids, 0), nth(ids, 1), nth(ids, 2), nth(ids, 3)];
      const h = started(
        await harness({
          a: {
            write: [
              fail(
                new PartialWriteError(
                  [a, b],
                  [
                    { id: c, reason: 'field too long' },
                    { id: d, reason: 'throttled', kind: 'transient' },
                  ],
                ),
              ),
            ],
          },
        }),
      );
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 3);
      expect(h.queue.stats('a').points).toBe(0);
      expect(h.audit.acked).toEqual([a, b, d]);
      expect(h.audit.deadLettered).toEqual([{ id: c, code: 'BIFROST_ERR_PAYLOAD', reason: 'field too long' }]);
      expect(h.connectors.a.received[1]?.map((p) => p.id)).toEqual([d]);
      expect(await counter(h, 'bifrost_cloud_batch_operations_total', { result: 'partial' })).toBe(1);
      expect(await counter(h, 'bifrost_cloud_data_points_sent_total')).toBe(3);
      expect(await counter(h, 'bifrost_cloud_retries_total')).toBe(1); // d sent again
      expect(h.audit.violations).toEqual([]);
    });

    it('releases a write that hangs past the timeout and ignores its late ack', async () => {
      const hung = held();
      const h = started(await harness({ a: { write: [hung.step], delivery: { timeoutMs: 60 } } }));
      const points = makePoints(6);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 6);
      hung.release(); // the hung write acknowledges late
      await waitFor(() => h.connectors.a.acked.length === 12); // delivered twice (at-least-once) ...
      expectExactlyDelivered(
        h,
        points.map((p) => p.id),
      ); // ... but acked in the queue once
      expect(h.audit.releases).toBe(1);
      expect(h.pipeline.health()[0]?.lastError?.code).toBe('BIFROST_ERR_WRITE_TIMEOUT');
      expect(h.connectors.a.connects).toBe(2);
    });

    it('counts every re-send as a retry: batches handed back to the queue after a timeout and leased again', async () => {
      const hung = [held(), held()];
      const h = started(await harness({ a: { write: hung.map((x) => x.step), delivery: { timeoutMs: 60 } } }));
      const points = makePoints(5);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 5);
      expect(h.audit.releases).toBe(2); // each timed-out batch went back to the queue
      expect(h.audit.leases.map((l) => l.attempts)).toEqual([0, 1, 2]);
      expect(await counter(h, 'bifrost_cloud_retries_total')).toBe(2);
      expect(h.pipeline.metricsSnapshot().connectors[0]).toMatchObject({
        retries: 2,
        failedBatches: 2,
        batches: 1,
        sent: 5,
      });
      for (const x of hung) x.release();
    });

    it('keeps a ConfigError on connect out of retry loops until the breaker admits a trial', async () => {
      const h = started(
        await harness({
          a: {
            connect: [fail(new ConfigError('no such topic'))],
            delivery: { breaker: { failureThreshold: 50, resetMs: 200 } },
          },
        }),
      );
      await h.pipeline.ingest(makePoints(3));
      await waitFor(() => h.pipeline.health()[0]?.breaker === 'open');
      expect(h.pipeline.health()[0]).toMatchObject({ status: 'unhealthy', connected: false });
      expect(h.connectors.a.received).toHaveLength(0);
      await waitFor(() => h.audit.acked.length === 3);
      expect(await counter(h, 'bifrost_cloud_connection_attempts_total', { result: 'failure' })).toBe(1);
      // Points never written (the connect failed first) keep attempt 0 and their first write is no retry.
      expect(h.audit.leases.every((l) => l.attempts === 0)).toBe(true);
      expect(await counter(h, 'bifrost_cloud_retries_total')).toBe(0);
    });
  });

  describe('delivery pipeline: concurrency and isolation', () => {
    it('keeps at most maxInFlight batches in flight', async () => {
      // Each write waits (bounded) until three run at once, so reaching the limit does not depend on
      // timing; a fourth concurrent write would show in maxConcurrent.
      const seen: { connector?: ScriptedConnector } = {};
      const untilThree: Step = () =>
        waitFor(() => (seen.connector?.maxConcurrent ?? 0) >= 3, 2_000).catch(() => undefined);
      const h = started(await harness({ a: { write: times(20, untilThree), delivery: { maxInFlight: 3 } } }));
      seen.connector = h.connectors.a;
      await h.pipeline.ingest(makePoints(100));
      await waitFor(() => h.audit.acked.length === 100);
      expect(h.connectors.a.maxConcurrent).toBe(3);
    });

    it('per-device ordering with maxInFlight 1: one batch in flight, each device in order', async () => {
      const h = started(
        await harness({
          a: { write: times(20, hang(5)), delivery: { maxInFlight: 1 }, capabilities: { ordering: 'per-device' } },
        }),
      );
      const points = makePoints(60, 4);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 60);
      expect(h.connectors.a.maxConcurrent).toBe(1);
      const seen = h.connectors.a.received.flat();
      for (const dev of ['dev-0', 'dev-1', 'dev-2', 'dev-3']) {
        expect(seen.filter((p) => p.deviceId === dev).map((p) => p.id)).toEqual(
          points.filter((p) => p.deviceId === dev).map((p) => p.id),
        );
      }
    });

    it('per-device ordering with maxInFlight 4: devices split over streams written concurrently, never one device in two writes at once', async () => {
      let running: Array<readonly { deviceId: string }[]> = [];
      const overlaps: string[] = [];
      const watch: Step = async (batch) => {
        const devices = new Set(batch.map((p) => p.deviceId));
        for (const other of running) for (const p of other) if (devices.has(p.deviceId)) overlaps.push(p.deviceId);
        running.push(batch);
        await delay(5);
        running = running.filter((b) => b !== batch);
      };
      const h = started(
        await harness({
          a: {
            write: times(100, watch),
            delivery: { batchSize: 10, maxInFlight: 4 },
            capabilities: { ordering: 'per-device' },
          },
        }),
      );
      const points = makePoints(400, 16);
      await h.pipeline.ingest(points);
      await waitFor(() => h.audit.acked.length === 400);
      expect(h.connectors.a.maxConcurrent).toBeGreaterThan(1);
      expect(h.connectors.a.maxConcurrent).toBeLessThanOrEqual(4);
      expect(overlaps).toEqual([]);
      expect(Math.max(...h.connectors.a.received.map((b) => b.length))).toBeLessThanOrEqual(10);
      const seen = h.connectors.a.received.flat();
      for (let d = 0; d < 16; d++) {
        const dev = `dev-${d}`;
        expect(seen.filter((p) => p.deviceId === dev).map((p) => p.id)).toEqual(
          points.filter((p) => p.deviceId === dev).map((p) => p.id),
        );
      }
      expect(h.audit.violations).toEqual([]);
      expect(h.audit.openLeases()).toEqual([]);
    });

    it("an instance's ordering none overrides the definition's per-device: whole batches, not one part per stream", async () => {
      const h = started(
        await harness({
          a: {
            write: times(10, hang(5)),
            delivery: { batchSize: 100, maxInFlight: 4 },
            capabilities: { ordering: 'per-device' },
            ordering: 'none',
          },
        }),
      );
      await h.pipeline.ingest(makePoints(400, 16));
      await waitFor(() => h.audit.acked.length === 400);
      // Per-device streams would cut each 100-point lease into 4 parts of about 25.
      expect(h.connectors.a.received.map((b) => b.length)).toEqual([100, 100, 100, 100]);
    });

    it('per-device streams keep each device in order through failures, hand-backs, partial writes and timeouts', async () => {
      // A seeded script of outcomes so the run is reproducible: ok, transient failure (retried in
      // place), auth error (handed back), partial write (some released), and a write past the timeout.
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      const steps: Step[] = Array.from({ length: 300 }, (): Step => {
        const r = rand();
        if (r < 0.55) return hang(2);
        if (r < 0.7) return fail(new TransientError('flaky'));
        if (r < 0.8) return fail(new AuthError('token refreshed'));
        if (r < 0.9)
          return (batch) =>
            Promise.reject(
              new PartialWriteError(
                batch.slice(0, 1).map((p) => p.id),
                batch.slice(1).map((p) => ({ id: p.id, reason: 'busy', kind: 'transient' as const })),
              ),
            );
        return hang(150);
      });
      const h = started(
        await harness({
          a: {
            write: steps,
            delivery: { batchSize: 8, maxInFlight: 4, timeoutMs: 100 },
            capabilities: { ordering: 'per-device' },
          },
        }),
      );
      const points = makePoints(300, 12);
      await h.pipeline.ingest(points);
      await waitFor(() => new Set(h.audit.acked).size === points.length, 20_000);
      expect(h.audit.violations).toEqual([]);
      expect(new Set(h.audit.acked)).toEqual(new Set(points.map((p) => p.id)));
      expect(h.audit.deadLettered).toEqual([]);
      expect(h.connectors.a.maxConcurrent).toBeGreaterThan(1);
      expect(h.audit.splits.length).toBeGreaterThan(0);
      expect(h.audit.releases).toBeGreaterThan(0); // batches were handed back (and those behind them)
      // First send of each point, per device, in queue order (a timed-out write may still land later: a duplicate, not a reorder).
      const firstSent = new Map<string, number>();
      h.connectors.a.received.flat().forEach((p, i) => {
        if (!firstSent.has(p.id)) firstSent.set(p.id, i);
      });
      for (let d = 0; d < 12; d++) {
        const own = points.filter((p) => p.deviceId === `dev-${d}`).map((p) => p.id);
        expect([...own].sort((x, y) => firstSent.get(x)! - firstSent.get(y)!)).toEqual(own);
      }
    }, 30_000);

    it.each([
      ['an auth error (batch handed back)', () => new AuthError('revoked')],
      [
        'a partial write (transient rejections released)',
        (batch: readonly { id: string }[]) =>
          new PartialWriteError(
            batch.slice(0, 1).map((p) => p.id),
            batch.slice(1).map((p) => ({ id: p.id, reason: 'busy', kind: 'transient' as const })),
          ),
      ],
    ])(
      'per-device: the next batch is leased while one is written, and given back first when %s, keeping each device in order',
      async (_what, error) => {
        const box: { h?: Harness } = {};
        // The first write fails only once the next batch was prefetched (leased during the write).
        const failAfterPrefetch: Step = async (batch) => {
          await waitFor(() => (box.h?.audit.leases.length ?? 0) >= 2);
          throw error(batch);
        };
        const h = started(
          await harness({
            a: {
              write: [failAfterPrefetch],
              delivery: { batchSize: 5, maxInFlight: 1, breaker: { failureThreshold: 50, resetMs: 50 } },
              capabilities: { ordering: 'per-device' },
            },
          }),
        );
        box.h = h;
        const points = makePoints(40, 3);
        await h.pipeline.ingest(points);
        await waitFor(() => h.audit.acked.length >= 40);
        expect(h.queue.stats('a').points).toBe(0);
        expect(h.audit.violations).toEqual([]);
        expect(h.connectors.a.maxConcurrent).toBe(1);
        const prefetched = nth(h.audit.leases, 1);
        expect(prefetched.points.map((p) => p.id)).toEqual(points.slice(5, 10).map((p) => p.id));
        // Given back unwritten: its points keep attempt 0; the failed batch's released points come first again.
        const next = nth(h.audit.leases, 2);
        expect(next.attempts).toBe(1);
        expect(nth(next.points, next.points.length - 1).id).not.toBe(
          nth(prefetched.points, prefetched.points.length - 1).id,
        );
        const firstSent = new Map<string, number>();
        h.connectors.a.received.flat().forEach((p, i) => {
          if (!firstSent.has(p.id)) firstSent.set(p.id, i);
        });
        for (const dev of ['dev-0', 'dev-1', 'dev-2']) {
          const own = points.filter((p) => p.deviceId === dev).map((p) => p.id);
          expect([...own].sort((x, y) => firstSent.get(x)! - firstSent.get(y)!)).toEqual(own);
          // Acked in order too: a later point of a device is never acked before an earlier one.
          const ackOrder = h.audit.acked.filter((id) => own.includes(id));
          expect(ackOrder).toEqual(own.filter((id) => ackOrder.includes(id)));
        }
        expect(new Set(h.audit.acked)).toEqual(new Set(points.map((p) => p.id)));
        expect(h.audit.acked).toHaveLength(40);
      },
    );

    it('one connector down never slows another', async () => {
      const h = started(
        await harness({
          hung: { write: times(10, hang(5_000)), delivery: { timeoutMs: 10_000 } },
          down: {
            write: times(1000, fail(new TransientError('unreachable'))),
            delivery: { breaker: { failureThreshold: 2, resetMs: 10_000 } },
          },
          up: {},
        }),
      );
      const points = makePoints(50);
      await h.pipeline.ingest(points);
      await waitFor(() => h.queue.stats('up').points === 0);
      // Delivered while the hung sink's first write (5 s) has not even returned: not held behind it.
      expect(h.connectors.hung.ackedIds().size).toBe(0);
      expect(h.connectors.up.ackedIds().size).toBe(50);
      expect(h.connectors.hung.received).toHaveLength(1);
      await waitFor(() => h.pipeline.health().find((x) => x.name === 'down')?.breaker === 'open');
      expect(h.queue.stats('down').points).toBe(50);
      expect(h.queue.stats('hung').points).toBe(50);
    });
  });

  describe('delivery pipeline: stop', () => {
    it('drains in-flight batches within the deadline and closes the connector', async () => {
      const h = await harness({ a: { write: [hang(150)], delivery: { timeoutMs: 1_000 } } });
      h.pipeline.start();
      await h.pipeline.ingest(makePoints(10));
      await waitFor(() => h.connectors.a.received.length === 1);
      const { released } = await h.pipeline.stop({ deadlineMs: 2_000 });
      expect(released).toEqual({ a: 0 });
      expect(h.audit.acked).toHaveLength(10);
      expect(h.connectors.a.closes).toBe(1);
      expect(h.connectors.a.ctx?.signal.aborted).toBe(true);
    });

    it('does not wait out a backoff on stop: the retrying batch goes back to the queue at once', async () => {
      const h = await harness({
        a: {
          write: times(100, fail(new TransientError('down'))),
          delivery: { retry: { initialDelayMs: 20_000, maxDelayMs: 20_000 } },
        },
      });
      h.pipeline.start();
      await h.pipeline.ingest(makePoints(10));
      await waitFor(() => h.connectors.a.received.length === 1);
      // On a fake clock that stands still, stop can only finish if it waits for no timer.
      vi.useFakeTimers({ toFake: [...FAKE_CLOCK.toFake] });
      try {
        const t0 = Date.now();
        await h.pipeline.stop({ deadlineMs: 3_000 });
        expect(Date.now()).toBe(t0);
      } finally {
        vi.useRealTimers();
      }
      expect(h.queue.stats('a')).toMatchObject({ points: 10, inFlight: 0 });
      expect(h.audit.acked).toEqual([]);
      expect(h.connectors.a.closes).toBe(1);
    });

    it('releases what is still in flight at the deadline; nothing is lost', async () => {
      const hung = held();
      const h = await harness({ a: { write: [hung.step], delivery: { timeoutMs: 5_000 } } });
      h.pipeline.start();
      await h.pipeline.ingest(makePoints(10));
      await hung.started;
      const { released } = await h.pipeline.stop({ deadlineMs: 50 });
      expect(released).toEqual({ a: 10 });
      expect(h.queue.stats('a')).toMatchObject({ points: 10, inFlight: 0 });
      hung.release(); // the late ack changes nothing
      await waitFor(() => h.connectors.a.acked.length === 10);
      await delay(20);
      expect(h.audit.acked).toEqual([]);
      expect(h.audit.violations).toEqual([]);
      await expect(h.pipeline.ingest(makePoints(1))).rejects.toThrow(/stopped/);
    });
  });

  describe('ingest', () => {
    it('routes with fan-out, honours an explicit connector, and counts unrouted points and devices', async () => {
      const router = {
        route: (p: { tagName: string }) =>
          p.tagName === 'temperature'
            ? [
                { connector: 'a', priority: 1 },
                { connector: 'b', priority: 5 },
              ]
            : [],
      };
      const h = started(await harness({ a: {}, b: {} }, { router }));
      const points = makePoints(6);
      const other = { ...nth(makePoints(1), 0), tagName: 'pressure' };
      const res = await h.pipeline.ingest([...points, other]);
      expect(res).toMatchObject({ queued: 12, unrouted: 1 });
      await h.pipeline.ingest([other], { connector: 'b' });
      await waitFor(() => h.audit.acked.length === 13);
      expect(h.queue.stats('a').points + h.queue.stats('b').points).toBe(0);
      expect(h.connectors.a.ackedIds().size).toBe(6);
      expect(h.connectors.b.ackedIds()).toEqual(new Set([...points.map((p) => p.id), other.id]));
      await expect(h.pipeline.ingest(points, { connector: 'nope' })).rejects.toMatchObject({
        code: 'BIFROST_ERR_UNKNOWN_CONNECTOR',
      });
      const snap = h.pipeline.metricsSnapshot();
      expect(snap.unrouted).toBe(1);
      expect(snap.devices['dev-0']?.ingested).toBe(4); // two routed, `other` unrouted, then `other` sent explicitly
      expect(Object.values(snap.devices).reduce((s, d) => s + d.ingested, 0)).toBe(8);
      expect(snap.connectors.find((c) => c.name === 'b')).toMatchObject({
        ingested: 7,
        sent: 7,
        failed: 0,
        queue: { depth: 0 },
      });
    });

    it('applies lane limits: a full block lane refuses the whole call, a drop_oldest lane counts what it dropped', async () => {
      const h = started(
        await harness({
          slow: {
            write: times(100, hang(2_000)),
            delivery: { timeoutMs: 5_000 },
            lane: { maxPoints: 20, whenFull: 'block' },
          },
          lossy: {
            write: times(100, hang(2_000)),
            delivery: { timeoutMs: 5_000 },
            lane: { maxPoints: 20, whenFull: 'drop_oldest' },
          },
        }),
      );
      await h.pipeline.ingest(makePoints(15), { connector: 'slow' });
      await expect(h.pipeline.ingest(makePoints(10), { connector: 'slow' })).rejects.toBeInstanceOf(QueueFullError);
      expect(h.queue.stats('slow').points).toBe(15);
      const res = await h.pipeline.ingest(makePoints(30), { connector: 'lossy' });
      expect(res.dropped).toEqual({ lossy: 10 });
      expect(await counter(h, 'bifrost_cloud_points_dropped_total', { connector: 'lossy' })).toBe(10);
      expect(h.pipeline.metricsSnapshot().connectors.find((c) => c.name === 'lossy')).toMatchObject({
        ingested: 30,
        dropped: 10,
      });
    });

    it('propagates QueueFullError so callers can back off', async () => {
      const h = await harness();
      const full: DurableQueue = new Proxy(h.queue, {
        get: (t, p) =>
          p === 'enqueue' ? () => Promise.reject(new QueueFullError('a', 750)) : (Reflect.get(t, p) as unknown),
      });
      const p = createPipeline({ queue: full, connectors: [] });
      await expect(p.ingest(makePoints(1), {})).resolves.toMatchObject({ queued: 0, unrouted: 1 });
      const q = await harness({ a: {} }, { queue: full });
      await expect(q.pipeline.ingest(makePoints(2))).rejects.toMatchObject({
        code: 'BIFROST_ERR_QUEUE_FULL',
        retryAfterMs: 750,
      });
      expect(q.pipeline.metricsSnapshot().devices).toEqual({});
    });
  });

  describe('health and metrics', () => {
    it('probes health periodically and reconnects after a failed probe', async () => {
      const h = started(await harness());
      await waitFor(() => h.connectors.a.connects === 1);
      h.connectors.a.probe = () => Promise.resolve({ ok: false, detail: 'ping timeout' });
      await waitFor(() => h.connectors.a.connects >= 2);
      h.connectors.a.probe = () => Promise.resolve({ ok: true });
      await waitFor(() => h.pipeline.health()[0]?.status === 'healthy');
    });

    it('counts payload bytes when the connector resolves its write with a receipt', async () => {
      const h = started(await harness());
      const c = h.connectors.a;
      c.receipt = (batch) => ({ bytes: batch.length * 100 });
      await h.pipeline.ingest(makePoints(25));
      await waitFor(() => h.audit.acked.length === 25);
      expect(await counter(h, 'bifrost_cloud_bytes_sent_total')).toBe(2_500);
      expect(h.pipeline.health()[0]?.bytesSent).toBe(2_500);
      expect(h.pipeline.metricsSnapshot().connectors[0]?.bytesSent).toBe(2_500);
    });

    it('moves expired points to the dead-letter table on a timer and counts them', async () => {
      const base = await openQueue();
      let expireCalls = 0;
      const expiring: DurableQueue = new Proxy(base, {
        get: (t, p) =>
          p === 'expire' ? () => Promise.resolve(++expireCalls === 1 ? { a: 3 } : {}) : (Reflect.get(t, p) as unknown),
      });
      const h = started(await harness({ a: {} }, { queue: expiring, expireIntervalMs: 20 }));
      await waitFor(() => expireCalls >= 2);
      expect(
        await counter(h, 'bifrost_cloud_dead_letter_total', { connector: 'a', code: 'BIFROST_ERR_TTL_EXPIRED' }),
      ).toBe(3);
      expect(h.pipeline.metricsSnapshot().connectors[0]?.deadLettered).toBe(3);
    });

    it('exposes Prometheus text on a dedicated registry with connector and type labels', async () => {
      const h = started(
        await harness({ a: { write: [fail(new TransientError('x'))], delivery: { poison: { isolate: false } } } }),
      );
      await h.pipeline.ingest(makePoints(4));
      await waitFor(() => h.audit.acked.length === 4);
      const text = await h.pipeline.registry.metrics();
      for (const name of [
        'bifrost_cloud_data_points_sent_total{connector="a",type="scripted"} 4',
        'bifrost_cloud_data_points_failed_total{connector="a",type="scripted"} 4',
        'bifrost_cloud_batch_operations_total{connector="a",type="scripted",result="success"} 1',
        'bifrost_cloud_connection_attempts_total{connector="a",type="scripted",result="success"} 2',
        'bifrost_cloud_buffer_size{connector="a",type="scripted"} 0',
        'bifrost_cloud_breaker_state{connector="a",type="scripted"} 0',
        'bifrost_cloud_retries_total{connector="a",type="scripted"} 1',
        'bifrost_cloud_response_time_seconds_count{connector="a",type="scripted"} 1',
        'bifrost_cloud_oldest_queued_age_seconds{connector="a",type="scripted"} 0',
      ])
        expect(text).toContain(name);
      const snap = nth(h.pipeline.metricsSnapshot().connectors, 0);
      expect(snap).toMatchObject({
        sent: 4,
        failed: 4,
        retries: 1,
        batches: 1,
        failedBatches: 1,
        breaker: 'closed',
        connected: true,
      });
      expect(snap.successRate).toBe(0.5);
      expect(snap.p99ResponseTimeMs).toBeGreaterThanOrEqual(0);
    });
  });
});

describe('restart', () => {
  it('points released at a stop deadline are delivered by the next run from the same SQLite file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bifrost-restart-'));
    const file = join(dir, 'queue.db');
    try {
      const points = makePoints(30);
      const hung = held();
      const first = new ScriptedConnector({ write: [hung.step] });
      let queue = await openSqliteQueue(file);
      let pipeline = createPipeline({
        queue,
        connectors: [
          {
            name: 'a',
            definition: scriptedDefinition(first),
            config: {},
            delivery: { batchSize: 30, flushIntervalMs: 0, timeoutMs: 10_000 },
          },
        ],
      });
      pipeline.start();
      await pipeline.ingest(points);
      await waitFor(() => first.received.length === 1);
      expect(await pipeline.stop({ deadlineMs: 20 })).toEqual({ released: { a: 30 } });
      hung.release();
      await queue.close();

      const second = new ScriptedConnector();
      queue = await openSqliteQueue(file);
      expect(queue.stats('a').points).toBe(30);
      pipeline = createPipeline({
        queue,
        connectors: [
          { name: 'a', definition: scriptedDefinition(second), config: {}, delivery: { flushIntervalMs: 0 } },
        ],
      });
      pipeline.start();
      await waitFor(() => queue.stats('a').points === 0);
      expect(second.ackedIds()).toEqual(new Set(points.map((p) => p.id)));
      await pipeline.stop();
      await queue.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createPipeline', () => {
  it('names the connector when its plugin refuses the config or the delivery options are wrong', async () => {
    const queue = await openQueue();
    const refusing = defineConnector({
      type: 'picky',
      configSchema: z.object({}),
      create: () => {
        throw new Error('topic_prefix must not end with /');
      },
    });
    expect(
      thrownBy(() => createPipeline({ queue, connectors: [{ name: 'plant-a', definition: refusing, config: {} }] })),
    ).toMatchObject({
      code: 'BIFROST_ERR_CONNECTOR_CREATE',
      message: '[bifrost] [picky:plant-a] could not create the connector: topic_prefix must not end with /',
    });
    const ok = scriptedDefinition(new ScriptedConnector());
    expect(() =>
      createPipeline({ queue, connectors: [{ name: 'b', definition: ok, config: {}, delivery: { timeoutMs: -1 } }] }),
    ).toThrow(/\[scripted:b\].*delivery\.timeoutMs/);
    expect(() =>
      createPipeline({
        queue,
        connectors: [
          { name: 'b', definition: ok, config: {} },
          { name: 'b', definition: ok, config: {} },
        ],
      }),
    ).toThrow(/used twice/);
  });
});
