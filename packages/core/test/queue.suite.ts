import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DataPoint } from '../src/data-point.js';
import {
  QueueFullError,
  type DurableQueue,
  type EnqueueItem,
  type Lease,
  type QueueOptions,
} from '../src/queue/types.js';
import { nth, take } from './nth.js';

/** What the shared suite needs from a queue implementation. */
export interface QueueHarness {
  /** True when a closed queue can be reopened with its content (SQLite); enables the reopen tests. */
  durable: boolean;
  /** Opens the queue; in a durable harness a second call after `close()` reopens the same storage. */
  open(opts?: QueueOptions): Promise<DurableQueue>;
  /** Removes whatever the harness created (temp dirs). */
  cleanup(): void;
}

let serial = 0;

/** A point with a readable unique id `<prefix>-<n>`. */
export function point(prefix = 'p', extra: Partial<DataPoint> = {}): DataPoint {
  serial++;
  return {
    id: `${prefix}-${serial}`,
    deviceId: 'PLC001',
    tagName: 'temperature',
    value: serial,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000 + serial,
    ...extra,
  };
}

/** `n` items for one connector and priority. */
export function items(connector: string, n: number, priority = 0, prefix = connector): EnqueueItem[] {
  return Array.from({ length: n }, () => ({ connector, priority, point: point(prefix) }));
}

const ids = (list: readonly { id: string }[] | readonly EnqueueItem[]) =>
  list.map((x) => ('point' in x ? x.point.id : x.id));

/**
 * Registers the behaviour every {@link DurableQueue} must show (memory and SQLite run the same
 * tests), in the spirit of unstorage's `testDriver` and aedes-persistence's abstract suite.
 */
export function describeQueueBehaviour(name: string, makeHarness: () => QueueHarness): void {
  const probe = makeHarness();
  const durable = probe.durable;
  probe.cleanup();
  describe(`queue contract: ${name}`, () => {
    let h: QueueHarness;
    let q: DurableQueue;
    const open = async (opts?: QueueOptions) => (q = await h.open(opts));

    beforeEach(async () => {
      h = makeHarness();
      await open();
    });
    afterEach(async () => {
      await q.close();
      h.cleanup();
    });

    it('leases FIFO within a lane and counts points, bytes and in-flight points', async () => {
      const a = items('a', 3);
      const b = items('a', 2);
      await q.enqueue(a);
      await q.enqueue(b);
      expect(q.stats('a')).toMatchObject({ points: 5, inFlight: 0 });
      expect(q.stats('a').bytes).toBeGreaterThan(5 * 50);
      const lease = await q.lease('a', 10);
      expect(ids(lease!.points)).toEqual([...ids(a), ...ids(b)]);
      expect(lease?.points[0]).toEqual(nth(a, 0).point);
      expect(lease!.attempts).toBe(0);
      expect(q.stats('a')).toMatchObject({ points: 5, inFlight: 5 });
    });

    it('hides leased points from other leases until settled', async () => {
      await q.enqueue(items('a', 10));
      const first = await q.lease('a', 4);
      const second = await q.lease('a', 4);
      const third = await q.lease('a', 4);
      expect(first!.points).toHaveLength(4);
      expect(second!.points).toHaveLength(4);
      expect(third!.points).toHaveLength(2);
      const all = [...ids(first!.points), ...ids(second!.points), ...ids(third!.points)];
      expect(new Set(all).size).toBe(10);
      expect(await q.lease('a', 4)).toBeNull();
      expect(new Set([first!.id, second!.id, third!.id]).size).toBe(3);
    });

    it('keeps connectors apart', async () => {
      await q.enqueue([...items('a', 2), ...items('b', 3)]);
      expect((await q.lease('b', 10))!.points.every((p) => p.id.startsWith('b-'))).toBe(true);
      expect((await q.lease('a', 10))!.points).toHaveLength(2);
      expect(await q.lease('nobody', 10)).toBeNull();
      expect(q.connectors().sort()).toEqual(['a', 'b']);
    });

    it('deletes acked points and releases the rest with attempts + 1', async () => {
      await q.enqueue(items('a', 5));
      const lease = (await q.lease('a', 5))!;
      const [p0, p1, p2, p3, p4] = take(lease.points, 5);
      await q.settle(lease, {
        acked: [p0.id, p2.id],
        deadLetter: [{ id: p4.id, code: 'BIFROST_ERR_PAYLOAD', reason: 'value too large' }],
      });
      expect(q.stats('a')).toMatchObject({ points: 2, inFlight: 0, deadLetters: 1 });
      const again = (await q.lease('a', 10))!;
      expect(ids(again.points)).toEqual([p1.id, p3.id]);
      expect(again.attempts).toBe(1);
      const dead = await q.listDeadLetters({ connector: 'a' });
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({
        connector: 'a',
        point: p4,
        code: 'BIFROST_ERR_PAYLOAD',
        reason: 'value too large',
        attempts: 1,
      });
      expect(dead[0]?.time).toBeGreaterThan(0);
      await q.settle(again, { acked: 'all' });
      expect(q.stats('a')).toMatchObject({ points: 0, bytes: 0, inFlight: 0 });
      expect(await q.lease('a', 10)).toBeNull();
    });

    it('counts attempts over repeated releases', async () => {
      await q.enqueue(items('a', 2));
      for (let n = 0; n < 3; n++) {
        const lease = (await q.lease('a', 2))!;
        expect(lease.attempts).toBe(n);
        await q.settle(lease, { acked: [] });
      }
      const lease = (await q.lease('a', 1))!;
      expect(lease.attempts).toBe(3);
      await q.settle(lease, { acked: 'all' });
      const other = (await q.lease('a', 1))!;
      await q.settle(other, { acked: [], deadLetter: [{ id: nth(other.points, 0).id, code: 'X', reason: 'r' }] });
      expect((await q.listDeadLetters())[0]?.attempts).toBe(4);
    });

    it('keeps the attempt count of points released unattempted (attempted: false), in their place', async () => {
      await q.enqueue(items('a', 4));
      const first = (await q.lease('a', 2))!;
      await q.settle(first, { acked: [] });
      const tried = (await q.lease('a', 2))!;
      const ahead = (await q.lease('a', 2))!;
      expect([tried.attempts, ahead.attempts]).toEqual([1, 0]);
      await q.settle(ahead, { acked: [], attempted: false });
      await q.settle(tried, { acked: [], attempted: false });
      const again = (await q.lease('a', 4))!;
      expect(ids(again.points)).toEqual([...ids(tried.points), ...ids(ahead.points)]);
      expect(again.attempts).toBe(1);
      await q.settle(again, { acked: [], deadLetter: [{ id: nth(ahead.points, 0).id, code: 'X', reason: 'r' }] });
      expect((await q.listDeadLetters())[0]?.attempts).toBe(1);
    });

    it('splits a lease into groups settled on their own, each in queue order, across chunks', async () => {
      const first = items('a', 3);
      const second = items('a', 3);
      await q.enqueue(first);
      await q.enqueue(second);
      const retried = (await q.lease('a', 1))!;
      await q.settle(retried, { acked: [] });
      const lease = (await q.lease('a', 6))!;
      const all = ids(lease.points);
      const [even, odd] = take(
        q.split(lease, (_p, i) => i % 2),
        2,
      );
      expect(ids(even.points)).toEqual(all.filter((_, i) => i % 2 === 0));
      expect(ids(odd.points)).toEqual(all.filter((_, i) => i % 2 === 1));
      expect([even.attempts, odd.attempts]).toEqual([1, 0]);
      await expect(q.settle(lease, { acked: 'all' })).rejects.toThrow(/unknown or already settled/);
      expect(q.stats('a')).toMatchObject({ points: 6, inFlight: 6 });
      await q.settle(odd, { acked: 'all' });
      expect(q.stats('a')).toMatchObject({ points: 3, inFlight: 3 });
      await q.settle(even, { acked: [], attempted: false });
      const rest = (await q.lease('a', 10))!;
      expect(ids(rest.points)).toEqual(ids(even.points));
      expect(rest.attempts).toBe(1);
      await q.settle(rest, { acked: 'all' });
      expect(q.stats('a')).toMatchObject({ points: 0, inFlight: 0 });
    });

    it('refuses to settle a lease twice', async () => {
      await q.enqueue(items('a', 1));
      const lease = (await q.lease('a', 1))!;
      await q.settle(lease, { acked: 'all' });
      await expect(q.settle(lease, { acked: 'all' })).rejects.toThrow(/unknown or already settled/);
    });

    it('serves higher priority lanes first and FIFO inside each', async () => {
      const low = items('a', 3, 0, 'low');
      const high = items('a', 2, 9, 'high');
      const mid = items('a', 2, 5, 'mid');
      await q.enqueue(low);
      await q.enqueue([...high.slice(0, 1), ...mid, ...high.slice(1)]);
      const lease = (await q.lease('a', 5))!;
      expect(ids(lease.points)).toEqual([...ids(high), ...ids(mid), ids(low)[0]]);
    });

    it('serves newest first when the lane says so', async () => {
      q.configureLane('a', { order: 'newest_first' });
      const first = items('a', 3);
      const second = items('a', 3);
      await q.enqueue(first);
      await q.enqueue(second);
      const lease = (await q.lease('a', 4))!;
      expect(ids(lease.points)).toEqual([...ids(second).reverse(), ids(first)[2]]);
    });

    it('takes points across chunk boundaries and leaves the rest', async () => {
      const all = [...items('a', 7), ...items('a', 1)];
      await q.enqueue(all.slice(0, 7));
      await q.enqueue(all.slice(7));
      await q.enqueue(items('a', 5));
      const l1 = (await q.lease('a', 3))!;
      const l2 = (await q.lease('a', 5))!;
      expect([...ids(l1.points), ...ids(l2.points)]).toEqual(ids(all));
      await q.settle(l2, { acked: 'all' });
      await q.settle(l1, { acked: [] });
      const l3 = (await q.lease('a', 100))!;
      expect(l3.points).toHaveLength(8);
      expect(ids(l3.points.slice(0, 3))).toEqual(ids(l1.points));
    });

    it('leases points handed back before newer ones, from whichever chunk they are in', async () => {
      const chunks: EnqueueItem[][] = [];
      for (let i = 0; i < 6; i++) {
        const chunk = items('a', 5);
        chunks.push(chunk);
        await q.enqueue(chunk);
      }
      const leases: Lease[] = [];
      for (let i = 0; i < 6; i++) leases.push((await q.lease('a', 5))!);
      expect(await q.lease('a', 5)).toBeNull();
      await q.settle(nth(leases, 0), { acked: 'all' });
      await q.settle(nth(leases, 3), { acked: [] });
      await q.settle(nth(leases, 1), { acked: [] });
      const next = (await q.lease('a', 7))!;
      expect(ids(next.points)).toEqual([...ids(nth(chunks, 1)), ...ids(nth(chunks, 3)).slice(0, 2)]);
      await q.enqueue(items('a', 2));
      const rest = (await q.lease('a', 100))!;
      expect(ids(rest.points).slice(0, 3)).toEqual(ids(nth(chunks, 3)).slice(2));
      expect(rest.points).toHaveLength(5);
    });

    it('moves the oldest enqueue time on once the oldest chunk is delivered', async () => {
      await q.enqueue(items('a', 2));
      const first = q.stats('a').oldestEnqueuedAt!;
      await new Promise((r) => setTimeout(r, 20));
      const between = Date.now();
      await q.enqueue(items('a', 2));
      expect(q.stats('a').oldestEnqueuedAt).toBe(first);
      await q.settle((await q.lease('a', 1))!, { acked: 'all' });
      expect(q.stats('a').oldestEnqueuedAt).toBe(first);
      await q.settle((await q.lease('a', 1))!, { acked: 'all' });
      expect(q.stats('a').oldestEnqueuedAt).toBeGreaterThanOrEqual(between);
    });

    it('never hands out a point twice when a lease or a drop spans many chunks', async () => {
      for (let i = 0; i < 100; i++) await q.enqueue(items('a', 2)); // 100 separate chunks
      const first = (await q.lease('a', 130))!;
      const second = (await q.lease('a', 130))!;
      const all = [...ids(first.points), ...ids(second.points)];
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
      await q.settle(first, { acked: [] });
      await q.settle(second, { acked: 'all' });
      q.configureLane('a', { maxPoints: 130, whenFull: 'drop_oldest' });
      expect(await q.enqueue(items('a', 60))).toEqual({ accepted: 60, dropped: { a: 60 } });
      const rest = (await q.lease('a', 1000))!;
      expect(rest.points).toHaveLength(130);
      expect(new Set(ids(rest.points)).size).toBe(130);
      expect(ids(rest.points).slice(0, 70)).toEqual(ids(first.points).slice(60));
    });

    it('group-commits concurrent enqueues and resolves each', async () => {
      const batches = Array.from({ length: 50 }, (_, i) => items('a', (i % 3) + 1, i % 10));
      const results = await Promise.all(batches.map((b) => q.enqueue(b)));
      expect(results.map((r) => r.accepted)).toEqual(batches.map((b) => b.length));
      const total = batches.reduce((n, b) => n + b.length, 0);
      expect(q.stats('a').points).toBe(total);
      const lease = (await q.lease('a', total))!;
      expect(new Set(ids(lease.points))).toEqual(new Set(batches.flatMap(ids)));
    });

    it('when_full=block refuses the whole call and queues nothing of it', async () => {
      q.configureLane('a', { maxPoints: 5, whenFull: 'block' });
      await q.enqueue(items('a', 4));
      const err = await q.enqueue([...items('b', 2), ...items('a', 2)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueueFullError);
      expect(err).toMatchObject({ code: 'BIFROST_ERR_QUEUE_FULL', connector: 'a' });
      expect(q.stats('a').points).toBe(4);
      expect(q.stats('b').points).toBe(0);
      await expect(q.enqueue(items('a', 1))).resolves.toMatchObject({ accepted: 1 });
    });

    it('when_full=block also holds for calls committed together', async () => {
      q.configureLane('a', { maxPoints: 3, whenFull: 'block' });
      const results = await Promise.allSettled([
        q.enqueue(items('a', 2)),
        q.enqueue(items('a', 2)),
        q.enqueue(items('a', 1)),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(q.stats('a').points).toBe(3);
    });

    it('when_full=drop_newest keeps what was queued and counts the drops', async () => {
      q.configureLane('a', { maxPoints: 5, whenFull: 'drop_newest' });
      const first = items('a', 4);
      await q.enqueue(first);
      const second = items('a', 3);
      expect(await q.enqueue(second)).toEqual({ accepted: 1, dropped: { a: 2 } });
      expect(q.stats('a')).toMatchObject({ points: 5, dropped: 2 });
      expect(ids((await q.lease('a', 10))!.points)).toEqual([...ids(first), ids(second)[0]]);
    });

    it('when_full=drop_oldest drops the oldest unleased points, lowest priority first, and counts them', async () => {
      q.configureLane('a', { maxPoints: 5, whenFull: 'drop_oldest' });
      const urgent = items('a', 1, 9);
      const old = items('a', 4, 0);
      await q.enqueue([...urgent, ...old]);
      const leased = (await q.lease('a', 2))!; // urgent + old[0] are in flight and must survive
      expect(ids(leased.points)).toEqual([ids(urgent)[0], ids(old)[0]]);
      const fresh = items('a', 2, 0);
      expect(await q.enqueue(fresh)).toEqual({ accepted: 2, dropped: { a: 2 } });
      expect(q.stats('a')).toMatchObject({ points: 5, dropped: 2 });
      await q.settle(leased, { acked: [] });
      const rest = (await q.lease('a', 10))!;
      expect(ids(rest.points)).toEqual([ids(urgent)[0], ids(old)[0], ids(old)[3], ...ids(fresh)]);
    });

    it('when_full=drop_oldest drops from the incoming call when everything queued is in flight', async () => {
      q.configureLane('a', { maxPoints: 2, whenFull: 'drop_oldest' });
      await q.enqueue(items('a', 2));
      await q.lease('a', 2);
      const incoming = items('a', 3);
      expect(await q.enqueue(incoming)).toEqual({ accepted: 0, dropped: { a: 3 } });
      expect(q.stats('a').points).toBe(2);
    });

    it('applies max_bytes like max_points', async () => {
      q.configureLane('a', { maxPoints: 0, maxBytes: 2000, whenFull: 'drop_newest' });
      const first = await q.enqueue(items('a', 100));
      expect(first.accepted).toBeGreaterThan(0);
      expect(first.accepted).toBeLessThan(100);
      expect(first.dropped).toEqual({ a: 100 - first.accepted });
      await q.enqueue(items('a', 100));
      expect(q.stats('a').bytes).toBeLessThanOrEqual(2000);
      expect(q.stats('a').points).toBeLessThan(200);
      q.configureLane('b', { maxPoints: 0, maxBytes: 2000, whenFull: 'block' });
      await expect(q.enqueue(items('b', 100))).rejects.toBeInstanceOf(QueueFullError);
      await expect(q.enqueue(items('b', 1))).resolves.toMatchObject({ accepted: 1 });
    });

    it('applies each lane its own limits when one call interleaves connectors and priorities', async () => {
      q.configureLane('a', { maxPoints: 0, maxBytes: 2000, whenFull: 'drop_newest' });
      const a = items('a', 100);
      const b = [...items('b', 50, 0), ...items('b', 50, 3)];
      // a, b, a, b...: every item starts a new run of its connector.
      const mixed = a.flatMap((item, i) => [item, b[i]!]);
      const r = await q.enqueue(mixed);
      expect(r.accepted).toBeGreaterThan(100);
      expect(r.accepted).toBeLessThan(200);
      expect(r.dropped).toEqual({ a: 200 - r.accepted });
      expect(q.stats('a').bytes).toBeLessThanOrEqual(2000);
      expect(q.stats('a').points).toBe(r.accepted - 100);
      expect(q.stats('b').points).toBe(100);
      const leased = (await q.lease('b', 100))!;
      // The priority-3 half comes first, each half in the order given.
      expect(ids(leased.points)).toEqual([...ids(b.slice(50)), ...ids(b.slice(0, 50))]);
    });

    it('moves points past their ttl to the dead-letter table, never silently', async () => {
      q.configureLane('a', { ttlMs: 60_000 });
      await q.enqueue(items('a', 3));
      await q.enqueue(items('b', 2));
      const inFlight = (await q.lease('a', 1))!;
      expect(await q.expire(Date.now() + 1000)).toEqual({});
      expect(await q.expire(Date.now() + 61_000)).toEqual({ a: 2 });
      expect(q.stats('a')).toMatchObject({ points: 1, expired: 2, deadLetters: 2 });
      expect(q.stats('b').points).toBe(2);
      const dead = await q.listDeadLetters({ connector: 'a' });
      expect(dead.map((d) => d.code)).toEqual(['BIFROST_ERR_TTL_EXPIRED', 'BIFROST_ERR_TTL_EXPIRED']);
      expect(dead[0]?.reason).toMatch(/ttl/);
      await q.settle(inFlight, { acked: 'all' });
      expect(q.stats('a').points).toBe(0);
    });

    it('lists, replays and purges dead letters by connector, seq, limit and offset', async () => {
      await q.enqueue([...items('a', 4, 7), ...items('b', 2)]);
      for (const c of ['a', 'b']) {
        const lease = (await q.lease(c, 10))!;
        await q.settle(lease, {
          acked: [],
          deadLetter: lease.points.map((p) => ({ id: p.id, code: 'BIFROST_ERR_PAYLOAD', reason: 'bad' })),
        });
      }
      expect(await q.listDeadLetters()).toHaveLength(6);
      const page = await q.listDeadLetters({ connector: 'a', limit: 2, offset: 1 });
      expect(page).toHaveLength(2);
      const all = await q.listDeadLetters({ connector: 'a' });
      expect(page.map((d) => d.seq)).toEqual(all.slice(1, 3).map((d) => d.seq));
      expect(await q.replayDeadLetters({ seqs: [nth(all, 0).seq, nth(all, 3).seq] })).toBe(2);
      expect(q.stats('a').points).toBe(2);
      const replayed = (await q.lease('a', 10))!;
      expect(ids(replayed.points)).toEqual([nth(all, 0).point.id, nth(all, 3).point.id]);
      expect(replayed.attempts).toBe(1);
      expect(await q.purgeDeadLetters({ connector: 'b' })).toBe(2);
      expect((await q.listDeadLetters()).map((d) => d.connector)).toEqual(['a', 'a']);
      expect(await q.purgeDeadLetters()).toBe(2);
      expect(await q.listDeadLetters()).toEqual([]);
    });

    it('reports the enqueue time of the oldest queued point', async () => {
      expect(q.stats('a').oldestEnqueuedAt).toBeUndefined();
      const before = Date.now();
      await q.enqueue(items('a', 2, 3));
      const t = q.stats('a').oldestEnqueuedAt!;
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(Date.now());
      await q.settle((await q.lease('a', 2))!, { acked: 'all' });
      expect(q.stats('a').oldestEnqueuedAt).toBeUndefined();
    });

    it('rejects bad input with an error naming the field', async () => {
      await expect(q.enqueue([{ connector: 'a', priority: 12, point: point() }])).rejects.toThrow(
        /items\[0\]\.priority must be an integer 0\.\.9/,
      );
      await expect(q.enqueue([...items('a', 1), { connector: '', priority: 0, point: point() }])).rejects.toThrow(
        /items\[1\]\.connector/,
      );
      await expect(q.enqueue([{ connector: 'a', priority: 0, point: { ...point(), id: '' } }])).rejects.toThrow(
        /items\[0\]\.point\.id/,
      );
      expect(() => q.configureLane('a', { whenFull: 'explode' as never })).toThrow(
        /whenFull must be block \| drop_oldest \| drop_newest/,
      );
      expect(() => q.configureLane('a', { maxPoints: -1 })).toThrow(/maxPoints must be a non-negative integer/);
      await expect(q.lease('a', 0)).rejects.toThrow(/max must be a positive integer/);
      await expect(q.listDeadLetters({ limit: -1 })).rejects.toThrow(/limit must be/);
      expect(q.stats('a').points).toBe(0);
    });

    it('reports healthy storage and refuses work once closed', async () => {
      expect(q.health()).toEqual({ ok: true });
      await q.close();
      await expect(q.enqueue(items('a', 1))).rejects.toThrow(/closed/);
    });

    describe.runIf(durable)('after reopening', () => {
      it('keeps queued points and dead letters, forgets acked ones and releases every lease', async () => {
        await q.enqueue([...items('a', 6), ...items('b', 2, 4)]);
        const lease = (await q.lease('a', 4))!;
        const [p0, p1, p2, p3] = take(lease.points, 4);
        await q.settle(lease, { acked: [p0.id], deadLetter: [{ id: p1.id, code: 'X', reason: 'poison' }] });
        const hanging = (await q.lease('a', 3))!; // never settled: the process "died"
        expect(ids(hanging.points)).toEqual([p2.id, p3.id, expect.any(String)]);
        await q.close();
        await open();
        expect(q.stats('a')).toMatchObject({ points: 4, inFlight: 0 });
        expect(q.stats('b').points).toBe(2);
        const again = (await q.lease('a', 10))!;
        expect(ids(again.points).slice(0, 2)).toEqual([p2.id, p3.id]);
        expect(again.points).toHaveLength(4);
        expect(again.attempts).toBe(1);
        expect((await q.listDeadLetters()).map((d) => d.point.id)).toEqual([p1.id]);
        expect(q.connectors().sort()).toEqual(['a', 'b']);
      });

      it('keeps partially acked chunks exact across reopen', async () => {
        const all = items('a', 10);
        await q.enqueue(all);
        for (let round = 0; round < 3; round++) {
          const lease = (await q.lease('a', 2))!;
          await q.settle(lease, { acked: [nth(lease.points, 0).id] });
        }
        await q.close();
        await open();
        const rest = (await q.lease('a', 100))!;
        expect(q.stats('a').points).toBe(7);
        expect(rest.points).toHaveLength(7);
        expect(new Set(ids(rest.points)).size).toBe(7);
        await q.settle(rest, { acked: 'all' });
        await q.close();
        await open();
        expect(q.stats('a')).toMatchObject({ points: 0, bytes: 0 });
        expect(await q.lease('a', 100)).toBeNull();
      });
    });
  });
}
