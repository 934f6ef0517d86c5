// Leases: handing out batches and taking them back. Owns the open leases (which chunk points each
// holds), `lease` (picking available points by priority, from each lane's lease position), the
// in-memory part of `settle` (acked and dead-lettered points gone, the rest available again, the
// lease position moved back to a point handed back) and `split`. Storing the settled state is the
// group commit's job (see chunked-queue.ts and commit.ts).
import type { DataPoint } from '../data-point.js';
import { PRIORITIES } from './change-set.js';
import type { ChunkCache } from './chunk-cache.js';
import type { NewDeadLetter } from './chunk-store.js';
import type { Lanes, LaneState } from './lanes.js';
import { AVAILABLE, LEASED, pickAvailable, type LiveChunk } from './live-chunk.js';
import type { Lease, LeaseOutcome } from './types.js';

export interface LeaseRecord {
  connector: string;
  parts: Array<{ chunk: LiveChunk; idx: number[] }>;
}

export class LeaseBook {
  private readonly open = new Map<number, LeaseRecord>();
  /** Ids of leases handed out so far (a book that replaces another continues its ids). */
  leaseSeq: number;

  constructor(
    private readonly lanes: Lanes,
    private readonly cache: ChunkCache,
    firstId = 0,
  ) {
    this.leaseSeq = firstId;
  }

  /** Picks and marks up to `max` points of a connector (throws what the store throws while reading). */
  lease(connector: string, max: number): Lease | null {
    const lane = this.lanes.byConnector.get(connector);
    if (!lane) return null;
    const descending = lane.settings.order === 'newest_first';
    const parts: LeaseRecord['parts'] = [];
    let taken = 0;
    // lane.points and lane.leased hold PRIORITIES entries.
    for (let p = PRIORITIES - 1; p >= 0 && taken < max; p--) {
      const want = Math.min(max - taken, lane.points[p]! - lane.leased[p]!);
      if (want <= 0) continue;
      const start = parts.length;
      const fromCursor = !descending && lane.scanAfter[p] !== undefined;
      let got = this.pick(lane, connector, p, descending, want, parts);
      if (got < want && fromCursor) {
        // The counts say more points are available than the scan from the cursor found: pick
        // again from the lane's first chunk rather than trust the cursor (nothing is marked yet).
        parts.length = start;
        lane.scanAfter[p] = undefined;
        got = this.pick(lane, connector, p, descending, want, parts);
      }
      taken += got;
    }
    if (!taken) {
      this.cache.trim();
      return null;
    }
    const points: DataPoint[] = [];
    let attempts = 0;
    // idx holds point indexes of the chunk (points and attempts have one entry per point), and
    // lane.leased has an entry for every priority.
    for (const { chunk, idx } of parts) {
      for (const i of idx) {
        chunk.state[i] = LEASED;
        points.push(chunk.points[i]!);
        const a = chunk.attempts[i]!;
        if (a > attempts) attempts = a;
      }
      chunk.available -= idx.length;
      chunk.leased += idx.length;
      lane.leased[chunk.priority]! += idx.length;
    }
    // Only now that they are marked: evicting during the scan could drop a chunk this lease takes.
    this.cache.trim();
    const id = ++this.leaseSeq;
    this.open.set(id, { connector, parts });
    return { id, connector, points, attempts };
  }

  /**
   * Applies a lease's outcome to memory: acked and dead-lettered points are gone (the dead letters
   * pushed to `deadLetters`), the rest available again with attempts + 1 (unchanged when
   * `outcome.attempted` is false). The chunks touched join `cache.unsaved` until a commit stores them.
   */
  settle(lease: Lease, outcome: LeaseOutcome, deadLetters: NewDeadLetter[]): void {
    const record = this.open.get(lease.id);
    if (!record) throw new Error(`[bifrost] settle: lease ${lease.id} is unknown or already settled`);
    this.open.delete(lease.id);
    const acked = outcome.acked === 'all' ? undefined : new Set(outcome.acked);
    const dead = outcome.deadLetter?.length ? new Map(outcome.deadLetter.map((d) => [d.id, d])) : undefined;
    const now = Date.now();
    for (const { chunk, idx } of record.parts) {
      const lane = this.lanes.get(chunk.connector);
      const p = chunk.priority;
      // idx holds point indexes of the chunk (points, sizes and attempts have one entry per point),
      // and the lane's arrays have an entry for every priority.
      for (const i of idx) {
        if (chunk.state[i] !== LEASED) continue;
        const point = chunk.points[i]!;
        const d = dead?.get(point.id);
        chunk.leased--;
        lane.leased[p]!--;
        if (d || !acked || acked.has(point.id)) {
          chunk.markGone(i);
          lane.points[p]!--;
          lane.bytes[p]! -= chunk.sizes[i]!;
          if (d) {
            deadLetters.push({
              connector: record.connector,
              priority: p,
              point,
              code: d.code,
              reason: d.reason,
              attempts: chunk.attempts[i]! + 1,
              time: now,
            });
            lane.deadLetters++;
          }
        } else {
          chunk.state[i] = AVAILABLE;
          chunk.available++;
          if (outcome.attempted !== false) {
            chunk.attempts[i]!++;
            chunk.hasAttempts = true;
          }
          const cursor = lane.scanAfter[p];
          if (cursor !== undefined && chunk.seq <= cursor) lane.scanAfter[p] = chunk.seq - 1;
        }
      }
      this.cache.unsaved.add(chunk);
    }
  }

  /** `DurableQueue.split`: the lease's points grouped by `groupOf`, one new lease per group in key order. */
  split(lease: Lease, groupOf: (point: DataPoint, index: number) => number): Lease[] {
    const record = this.open.get(lease.id);
    if (!record) throw new Error(`[bifrost] split: lease ${lease.id} is unknown or already settled`);
    const groups = new Map<number, { parts: Map<LiveChunk, number[]>; points: DataPoint[]; attempts: number }>();
    let index = 0;
    for (const { chunk, idx } of record.parts) {
      // idx holds point indexes of the chunk (points and attempts have one entry per point).
      for (const i of idx) {
        const point = chunk.points[i]!;
        const key = groupOf(point, index++);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { parts: new Map(), points: [], attempts: 0 }));
        const part = g.parts.get(chunk);
        if (part) part.push(i);
        else g.parts.set(chunk, [i]);
        g.points.push(point);
        const a = chunk.attempts[i]!;
        if (a > g.attempts) g.attempts = a;
      }
    }
    this.open.delete(lease.id);
    return [...groups.keys()]
      .sort((a, b) => a - b)
      .map((key) => {
        const g = groups.get(key)!;
        const id = ++this.leaseSeq;
        this.open.set(id, {
          connector: record.connector,
          parts: [...g.parts].map(([chunk, idx]) => ({ chunk, idx })),
        });
        return { id, connector: record.connector, points: g.points, attempts: g.attempts };
      });
  }

  /** Forgets every lease (close). */
  clear(): void {
    this.open.clear();
  }

  /**
   * Picks up to `want` available points of one priority of a lane into `parts` (not marked leased
   * yet), chunk by chunk in lease order, starting after the lane's cursor (oldest-first lanes), and
   * moves the cursor past the chunks left with no available point. Returns how many points it picked.
   */
  private pick(
    lane: LaneState,
    connector: string,
    p: number,
    descending: boolean,
    want: number,
    parts: LeaseRecord['parts'],
  ): number {
    const start = descending ? undefined : lane.scanAfter[p];
    let frontier = start;
    let drained = true;
    let got = 0;
    for (const chunk of this.cache.laneChunks(connector, p, descending, start)) {
      let left = 0;
      if (chunk.available > 0) {
        const idx = pickAvailable(chunk, want - got, descending);
        if (idx.length) {
          parts.push({ chunk, idx });
          got += idx.length;
        }
        left = chunk.available - idx.length;
      }
      if (drained && left === 0) frontier = chunk.seq;
      else drained = false;
      if (got >= want) break;
    }
    if (!descending) lane.scanAfter[p] = frontier;
    return got;
  }
}
