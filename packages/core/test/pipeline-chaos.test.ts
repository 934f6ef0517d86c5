import { afterEach, describe, expect, it } from 'vitest';
import {
  CapacityError,
  PartialWriteError,
  PayloadError,
  seededRandom,
  TransientError,
  type DataPoint,
} from '../src/index.js';
import { QUEUE_KINDS, closeQueues, harness, useQueue, waitFor } from './pipeline-fixtures/harness.js';
import { makePoints, times, type Step } from './pipeline-fixtures/scripted-connector.js';

const isPoison = (p: DataPoint) => p.value === 'POISON';

/**
 * A flaky sink: it never accepts a poison point, and otherwise fails at random in every way a real
 * one does: transient errors, throttling, partial writes, writes that hang past the timeout and
 * acknowledge late.
 */
function chaos(random: () => number): Step {
  return async (batch) => {
    const poison = batch.filter(isPoison);
    const r = random();
    if (r < 0.12) throw new TransientError('connection reset');
    if (r < 0.18) throw new CapacityError('throttled', 5);
    if (r < 0.24)
      await new Promise((res) => setTimeout(res, 120)); // hangs past the 60 ms timeout, then answers
    else if (r < 0.4) {
      const accepted: string[] = [];
      const rejected: Array<{ id: string; reason: string; kind?: 'transient' }> = [];
      for (const p of batch) {
        if (isPoison(p)) rejected.push({ id: p.id, reason: 'unparseable value' });
        else if (random() < 0.3) rejected.push({ id: p.id, reason: 'busy', kind: 'transient' });
        else accepted.push(p.id);
      }
      throw new PartialWriteError(accepted, rejected);
    }
    if (poison.length)
      throw new PayloadError(
        'unparseable value',
        poison.map((p) => p.id),
      );
  };
}

afterEach(closeQueues);

describe.each(QUEUE_KINDS)('pipeline under random failures (%s queue)', (kind) => {
  it.each([1, 2, 3])(
    'seed %i: every good point acked exactly once, every poison point dead-lettered, nothing lost',
    async (seed) => {
      useQueue(kind);
      const random = seededRandom(seed);
      const points = makePoints(400, 7).map((p, i) => (i % 37 === 5 ? { ...p, value: 'POISON' } : p));
      const good = points.filter((p) => !isPoison(p)).map((p) => p.id);
      const poison = points.filter(isPoison).map((p) => p.id);
      const h = await harness({
        a: {
          write: times(10_000, chaos(random)),
          delivery: { batchSize: 25, maxInFlight: 3, timeoutMs: 60, breaker: { failureThreshold: 4, resetMs: 20 } },
        },
      });
      h.pipeline.start();
      for (let i = 0; i < points.length; i += 50) await h.pipeline.ingest(points.slice(i, i + 50));
      await waitFor(() => h.queue.stats('a').points === 0, 15_000, 'the queue to drain');
      await h.pipeline.stop({ deadlineMs: 500 });

      expect(h.audit.violations).toEqual([]);
      expect([...h.audit.acked].sort()).toEqual([...good].sort()); // each good point acked once
      expect(h.audit.deadLettered.map((d) => d.id).sort()).toEqual([...poison].sort());
      const accepted = h.connectors.a.ackedIds();
      expect(good.filter((id) => !accepted.has(id))).toEqual([]); // nothing acked that the sink did not accept
      expect(poison.filter((id) => accepted.has(id))).toEqual([]);
      const dead = await h.queue.listDeadLetters({ connector: 'a' });
      expect(dead.map((d) => d.point.id).sort()).toEqual([...poison].sort());
      expect(dead.every((d) => /unparseable value/.test(d.reason))).toBe(true);
      const [snap] = h.pipeline.metricsSnapshot().connectors;
      expect(snap?.sent).toBe(good.length);
      expect(snap?.deadLettered).toBe(poison.length);
    },
  );
});
