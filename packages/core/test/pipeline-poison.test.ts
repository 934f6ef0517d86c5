import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransientError, type DataPoint } from '../src/index.js';
import type { Pipeline } from '../src/host.js';
import { SUSPECTED_POISON_CODE } from '../src/pipeline/bisection.js';
import {
  QUEUE_KINDS,
  closeQueues,
  delay,
  harness,
  useQueue,
  waitFor,
  type Harness,
} from './pipeline-fixtures/harness.js';
import { makePoints, type Step } from './pipeline-fixtures/scripted-connector.js';
import { seededTestRandom } from './seeded.js';

const POISON = 'POISON';
/** Isolation settings of the conformance suite: a breaker that opens after 3 failures in a row. */
const DELIVERY = { batchSize: 40, maxInFlight: 4, breaker: { failureThreshold: 3, resetMs: 60 } };

let running: Pipeline[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop({ deadlineMs: 200 })));
  running = [];
  await closeQueues();
});

function started<K extends string>(h: Harness<K>): Harness<K> {
  h.pipeline.start();
  running.push(h.pipeline);
  return h;
}

function poisoned(points: DataPoint[], at: number): DataPoint {
  const p = points[at]!;
  p.deviceId = `${p.deviceId}-${POISON}`;
  return p;
}

/**
 * A peer that drops the connection on any batch holding the poison (the write fails as
 * transient), and records how many writes were running while one holding the poison did.
 */
function dropsPoison(steps = 2_000): { write: Step[]; overlaps: () => number } {
  let running = 0;
  let overlaps = 0;
  const step: Step = async (batch) => {
    running++;
    const poison = batch.some((p) => p.deviceId.includes(POISON));
    if (poison && running > 1) overlaps++;
    await delay(1);
    running--;
    if (poison) throw new TransientError('connection closed by the broker', { code: 'BIFROST_ERR_NET_CLOSED' });
  };
  return { write: Array.from({ length: steps }, () => step), overlaps: () => overlaps };
}

async function deadLetters(h: Harness) {
  return h.queue.listDeadLetters({ connector: 'a' });
}

describe.each(QUEUE_KINDS)('poison isolation by bisection on the %s queue', (kind) => {
  beforeAll(() => useQueue(kind));

  it.each([0, 17, 39])(
    'isolates the poison at index %i of a 40-point batch: 39 delivered, it alone dead-lettered',
    async (at) => {
      const peer = dropsPoison();
      const h = started(await harness({ a: { write: peer.write, delivery: DELIVERY } }));
      const points = makePoints(40, 5);
      const poison = poisoned(points, at);
      const t0 = Date.now();
      await h.pipeline.ingest(points);
      const settled = () => h.pipeline.metricsSnapshot().connectors[0];
      await waitFor(() => settled()?.sent === 39 && settled()?.deadLettered === 1, 10_000, '39 sent, 1 dead-lettered');
      const writes = h.connectors.a.received.length;
      const dead = await deadLetters(h);
      expect(dead.map((d) => d.point.id)).toEqual([poison.id]);
      expect(dead[0]?.code).toBe(SUSPECTED_POISON_CODE);
      expect(dead[0]?.reason).toMatch(/^suspected poison: \d+ writes containing this point failed/);
      expect(dead[0]?.reason).toContain('connection closed by the broker');
      expect(h.connectors.a.ackedIds()).toEqual(new Set(points.filter((p) => p !== poison).map((p) => p.id)));
      // A failed write and a one-point proof per halving of 40, the suspect's 4 confirmations with
      // proofs between, then the rest of the batch in the parts it was cut into.
      expect(writes).toBeLessThanOrEqual(26);
      // With no good point left to write between the suspect's attempts, they fail in a row and
      // open this breaker (threshold 3): each trial is the next attempt, the conviction closes it.
      const transitions = h.logger.records.filter((r) => r.breaker).map((r) => r.breaker);
      expect(transitions.join(' ')).toMatch(/^(open (half-open open ){0,2}closed)?$/);
      const m = h.pipeline.metricsSnapshot().connectors[0];
      expect(m).toMatchObject({ sent: 39, deadLettered: 1 });
      console.log(`poison at ${at}: isolated in ${writes} writes, ${Date.now() - t0} ms`);
    },
  );

  it('writes holding the suspect run alone: other batches in flight never fail with it', async () => {
    const peer = dropsPoison();
    const h = started(await harness({ a: { write: peer.write, delivery: DELIVERY } }));
    const points = makePoints(400, 10);
    const poison = poisoned(points, 123);
    await h.pipeline.ingest(points);
    await waitFor(() => h.queue.stats('a').points === 0, 10_000, 'an empty queue');
    expect((await deadLetters(h)).map((d) => d.point.id)).toEqual([poison.id]);
    expect(h.connectors.a.ackedIds().size).toBe(399);
    // Only the first write of the poison's batch may overlap others (before anything is suspected).
    expect(peer.overlaps()).toBeLessThanOrEqual(1);
  });

  it('dead-letters nothing during an outage (every write fails, no success in between) and delivers all after it', async () => {
    const down: Step = () => Promise.reject(new TransientError('connection refused'));
    const h = started(await harness({ a: { write: Array.from({ length: 60 }, () => down), delivery: DELIVERY } }));
    const points = makePoints(40, 5);
    await h.pipeline.ingest(points);
    await waitFor(() => h.queue.stats('a').points === 0, 10_000, 'an empty queue');
    expect(h.connectors.a.received.length).toBeGreaterThan(60);
    expect(await deadLetters(h)).toEqual([]);
    // Parts held through an open breaker wait for its trial: no write while it is open.
    const open: Array<[number, number]> = [];
    let since: number | undefined;
    for (const r of h.logger.records) {
      if (r.breaker === 'open') since = r.time as number;
      else if (r.breaker && since !== undefined) {
        open.push([since, r.time as number]);
        since = undefined;
      }
    }
    expect(open.length).toBeGreaterThan(0);
    expect(h.connectors.a.writeTimes.filter((t) => open.some(([a, b]) => t > a && t < b))).toEqual([]);
    expect(h.connectors.a.ackedIds().size).toBe(40);
  });

  it('dead-letters nothing on a peer failing every other write, whatever it holds', async () => {
    let n = 0;
    const flaky: Step = () => (n++ % 2 === 0 ? Promise.reject(new TransientError('reset')) : Promise.resolve());
    const h = started(
      await harness({
        a: { write: Array.from({ length: 400 }, () => flaky), delivery: { ...DELIVERY, maxInFlight: 1 } },
      }),
    );
    const points = makePoints(200, 5);
    await h.pipeline.ingest(points);
    await waitFor(() => h.queue.stats('a').points === 0, 10_000, 'an empty queue');
    expect(await deadLetters(h)).toEqual([]);
    expect(h.connectors.a.ackedIds().size).toBe(200);
  });

  it('dead-letters nothing on a peer failing 30% of writes at random (seeded)', async () => {
    const random = seededTestRandom('flaky peer');
    const flaky: Step = () => (random() < 0.3 ? Promise.reject(new TransientError('reset')) : Promise.resolve());
    const h = started(await harness({ a: { write: Array.from({ length: 2_000 }, () => flaky), delivery: DELIVERY } }));
    const points = makePoints(1_000, 10);
    await h.pipeline.ingest(points);
    await waitFor(() => h.queue.stats('a').points === 0, 20_000, 'an empty queue');
    expect(await deadLetters(h)).toEqual([]);
    expect(h.connectors.a.ackedIds().size).toBe(1_000);
  });

  it('convicts a lone poison point only once other writes succeed between its failures', async () => {
    const peer = dropsPoison();
    const h = started(await harness({ a: { write: peer.write, delivery: DELIVERY } }));
    const [lone] = makePoints(1);
    const poison = poisoned([lone!], 0);
    await h.pipeline.ingest([poison]);
    await waitFor(() => h.connectors.a.received.length >= 6, 5_000, 'six failed writes');
    expect(await deadLetters(h)).toEqual([]);
    const later = makePoints(30, 3);
    for (const p of later) {
      await h.pipeline.ingest([p]);
      await delay(5);
    }
    await waitFor(() => h.queue.stats('a').points === 0, 10_000, 'an empty queue');
    expect((await deadLetters(h)).map((d) => d.point.id)).toEqual([poison.id]);
    expect(h.connectors.a.ackedIds().size).toBe(30);
  });

  it('keeps per-device order: no part goes before earlier points of its devices', async () => {
    const peer = dropsPoison();
    const h = started(
      await harness({ a: { write: peer.write, delivery: DELIVERY, capabilities: { ordering: 'per-device' } } }),
    );
    const points = makePoints(80, 4);
    const poison = poisoned(points, 30);
    await h.pipeline.ingest(points);
    await waitFor(() => h.queue.stats('a').points === 0, 10_000, 'an empty queue');
    expect((await deadLetters(h)).map((d) => d.point.id)).toEqual([poison.id]);
    const position = new Map(points.map((p, i) => [p.id, i]));
    const firstAck = [...h.connectors.a.ackedIds()];
    for (const device of new Set(points.map((p) => p.deviceId))) {
      const order = firstAck
        .filter((id) => points[position.get(id)!]!.deviceId === device)
        .map((id) => position.get(id)!);
      expect(order, device).toEqual([...order].sort((x, y) => x - y));
    }
  });

  it('a stop during a bisection hands every part still held back to the queue', async () => {
    const peer = dropsPoison();
    const h = await harness({ a: { write: peer.write, delivery: DELIVERY } });
    h.pipeline.start();
    const points = makePoints(40, 5);
    poisoned(points, 25);
    await h.pipeline.ingest(points);
    await waitFor(() => h.connectors.a.received.length >= 3, 5_000, 'a bisection under way');
    const { released } = await h.pipeline.stop({ deadlineMs: 0 });
    const acked = h.connectors.a.ackedIds().size;
    const dead = (await deadLetters(h)).length;
    const left = h.queue.stats('a');
    expect(left.inFlight).toBe(0);
    expect(left.points).toBe(40 - acked - dead);
    expect(released.a).toBeLessThanOrEqual(left.points);
  });

  it('with isolate: false a poison batch is retried whole and nothing is dead-lettered', async () => {
    const peer = dropsPoison();
    const h = started(
      await harness({ a: { write: peer.write, delivery: { ...DELIVERY, poison: { isolate: false } } } }),
    );
    const points = makePoints(10, 2);
    poisoned(points, 4);
    await h.pipeline.ingest(points);
    await waitFor(() => h.connectors.a.received.length >= 8, 5_000, 'eight writes');
    expect(h.connectors.a.received.every((b) => b.length === 10)).toBe(true);
    expect(await deadLetters(h)).toEqual([]);
  });
});
