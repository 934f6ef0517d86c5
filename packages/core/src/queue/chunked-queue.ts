import type { DataPoint } from '../data-point.js';
import { ChangeSet, PRIORITIES, sum } from './change-set.js';
import { encodeChunk } from './chunk-codec.js';
import { AVAILABLE, GONE, LEASED, LiveChunk, pickAvailable } from './live-chunk.js';
import type { ChunkMeta, ChunkStore, LaneTotal, NewDeadLetter } from './chunk-store.js';
import { checkDeadLetterFilter } from './dead-letter-filter.js';
import { isRemoved, setRemoved } from './removed-bitmap.js';
import { checkEnqueueItems, checkLaneSettings } from './validate.js';
import {
  DEFAULT_LANE_SETTINGS,
  QueueFullError,
  QueueStorageError,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DurableQueue,
  type EnqueueItem,
  type EnqueueResult,
  type LaneSettings,
  type LaneStats,
  type Lease,
  type LeaseOutcome,
} from './types.js';

/** Dead-letter code of points whose `ttl` ran out while queued. */
export const TTL_EXPIRED_CODE = 'BIFROST_ERR_TTL_EXPIRED';

/** Chunks with no leased point kept parsed in memory, so consecutive small leases do not re-read a chunk. */
const IDLE_CHUNK_CACHE = 32;
/** Default of `memoryCacheBytes`. */
export const DEFAULT_MEMORY_CACHE_BYTES = 8 * 1024 * 1024;
const SCAN_PAGE = 16;

interface LaneState {
  settings: LaneSettings;
  points: number[];
  bytes: number[];
  leased: number[];
  dropped: number;
  expired: number;
  deadLetters: number;
  /** Enqueue time of the lane's oldest chunk, and that chunk's seq: read again when it is deleted. */
  oldest: number | undefined;
  oldestSeq: number | undefined;
  oldestStale: boolean;
  /**
   * Per priority, a seq up to which no chunk has an available point (oldest-first lanes): leases
   * start after it instead of at the lane's first chunk. Lowered when a point is handed back.
   */
  scanAfter: Array<number | undefined>;
}

interface LeaseRecord {
  connector: string;
  parts: Array<{ chunk: LiveChunk; idx: number[] }>;
}

interface PendingEnqueue {
  items: readonly EnqueueItem[];
  resolve: (r: EnqueueResult) => void;
  reject: (e: unknown) => void;
}

interface EncodedItem {
  item: EnqueueItem;
  /** Size estimate (its JSON) while placing it under `max_bytes`; 0 when the lane has no byte limit. */
  size: number;
}

/**
 * {@link DurableQueue} over a {@link ChunkStore}: lanes, priorities, leases, limits, ttl and dead
 * letters, the same for every store. Points are stored in chunks (one per lane per commit); concurrent
 * `enqueue` calls are group-committed in one transaction on the next event-loop turn. Leases live in
 * memory only, so reopening a store releases all of them.
 */
export class ChunkedQueue implements DurableQueue {
  private readonly lanes = new Map<string, LaneState>();
  private readonly live = new Map<number, LiveChunk>();
  /**
   * New chunks kept parsed while a backlog waits ahead of them, up to `memoryCacheBytes` of stored
   * payload: the oldest of a burst or an outage are delivered first, so they are the ones kept, and
   * delivering them reads nothing back (Fluent Bit's `storage.max_chunks_up`). A chunk moves to
   * `live` when a lease, drop or expiry first touches it.
   */
  private readonly hot = new Map<number, { chunk: LiveChunk; bytes: number }>();
  private hotBytes = 0;
  private readonly memoryCacheBytes: number;
  private readonly leases = new Map<number, LeaseRecord>();
  private readonly defaults: LaneSettings;
  private pending: PendingEnqueue[] = [];
  private flushScheduled = false;
  private leaseSeq = 0;
  private closed = false;
  private healthState: { ok: boolean; reason?: string } = { ok: true };
  private readonly onClose?: () => void;
  private readonly schedule: (flush: () => void) => void;
  private sawStorageError = false;
  /** Chunks whose settled state is not stored yet: kept parsed (never evicted) until it is. */
  private readonly unsaved = new Set<LiveChunk>();
  private pendingDeadLetters: NewDeadLetter[] = [];
  private settleWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(
    private readonly store: ChunkStore,
    options: {
      defaults?: Partial<LaneSettings>;
      onClose?: () => void;
      /**
       * How long a group commit gathers calls: until the next event-loop turn (default; lets I/O
       * callbacks join a durable commit) or only the current one (`queueMicrotask`, for memory).
       */
      schedule?: (flush: () => void) => void;
      /** Default {@link DEFAULT_MEMORY_CACHE_BYTES}; see `QueueOptions.memoryCacheBytes`. */
      memoryCacheBytes?: number;
    } = {},
  ) {
    const cacheBytes = options.memoryCacheBytes ?? DEFAULT_MEMORY_CACHE_BYTES;
    if (!(Number.isSafeInteger(cacheBytes) && cacheBytes >= 0))
      throw new TypeError(
        `[bifrost] queue: memoryCacheBytes must be a non-negative integer, got ${JSON.stringify(cacheBytes)}`,
      );
    this.memoryCacheBytes = cacheBytes;
    this.defaults = { ...DEFAULT_LANE_SETTINGS, ...checkLaneSettings(options.defaults ?? {}, 'defaults') };
    this.onClose = options.onClose;
    this.schedule = options.schedule ?? setImmediate;
    for (const t of store.readLaneTotals()) {
      const lane = this.lane(t.connector);
      lane.points[t.priority] = t.points;
      lane.bytes[t.priority] = t.bytes;
    }
  }

  configureLane(connector: string, settings: Partial<LaneSettings>): void {
    if (typeof connector !== 'string' || !connector)
      throw new TypeError('[bifrost] configureLane: connector must be a non-empty string');
    const lane = this.lane(connector);
    lane.settings = { ...this.defaults, ...checkLaneSettings(settings, `lane "${connector}"`) };
  }

  enqueue(items: readonly EnqueueItem[]): Promise<EnqueueResult> {
    if (this.closed) return Promise.reject(closedError());
    try {
      checkEnqueueItems(items);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!items.length) return Promise.resolve({ accepted: 0, dropped: {} });
    return new Promise((resolve, reject) => {
      this.pending.push({ items, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.schedule(() => this.flush());
    }
  }

  async lease(connector: string, max: number): Promise<Lease | null> {
    if (this.closed) throw closedError();
    if (!Number.isInteger(max) || max < 1)
      throw new TypeError(`[bifrost] lease: max must be a positive integer, got ${String(max)}`);
    const lane = this.lanes.get(connector);
    if (!lane) return null;
    const descending = lane.settings.order === 'newest_first';
    const parts: LeaseRecord['parts'] = [];
    let taken = 0;
    try {
      for (let p = PRIORITIES - 1; p >= 0 && taken < max; p--) {
        const want = Math.min(max - taken, lane.points[p] - lane.leased[p]);
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
    } catch (err) {
      throw this.storageFailure('reading queued points failed', err);
    }
    if (!taken) {
      this.trimCache();
      return null;
    }
    const points: DataPoint[] = [];
    let attempts = 0;
    for (const { chunk, idx } of parts) {
      for (const i of idx) {
        chunk.state[i] = LEASED;
        points.push(chunk.points[i]);
        if (chunk.attempts[i] > attempts) attempts = chunk.attempts[i];
      }
      chunk.available -= idx.length;
      chunk.leased += idx.length;
      lane.leased[chunk.priority] += idx.length;
    }
    // Only now that they are marked: evicting during the scan could drop a chunk this lease takes.
    this.trimCache();
    const id = ++this.leaseSeq;
    this.leases.set(id, { connector, parts });
    return { id, connector, points, attempts };
  }

  /**
   * Applies the outcome at once in memory (acked and dead-lettered points are gone, the rest
   * available again with attempts + 1, or unchanged when `outcome.attempted` is false) and resolves once it is stored by the next group commit,
   * shared with the enqueues and settles of the same event-loop turn. If storing fails, it rejects
   * with `QueueStorageError` and is retried with the next commit; until then the points stay stored,
   * so a restart delivers them again (at-least-once), never loses them.
   */
  async settle(lease: Lease, outcome: LeaseOutcome): Promise<void> {
    if (this.closed) throw closedError();
    const record = this.leases.get(lease.id);
    if (!record) throw new Error(`[bifrost] settle: lease ${lease.id} is unknown or already settled`);
    this.leases.delete(lease.id);
    const acked = outcome.acked === 'all' ? undefined : new Set(outcome.acked);
    const dead = outcome.deadLetter?.length ? new Map(outcome.deadLetter.map((d) => [d.id, d])) : undefined;
    const now = Date.now();
    for (const { chunk, idx } of record.parts) {
      const lane = this.lane(chunk.connector);
      const p = chunk.priority;
      for (const i of idx) {
        if (chunk.state[i] !== LEASED) continue;
        const point = chunk.points[i];
        const d = dead?.get(point.id);
        chunk.leased--;
        lane.leased[p]--;
        if (d || !acked || acked.has(point.id)) {
          chunk.markGone(i);
          lane.points[p]--;
          lane.bytes[p] -= chunk.sizes[i];
          if (d) {
            this.pendingDeadLetters.push({
              connector: record.connector,
              priority: p,
              point,
              code: d.code,
              reason: d.reason,
              attempts: chunk.attempts[i] + 1,
              time: now,
            });
            lane.deadLetters++;
          }
        } else {
          chunk.state[i] = AVAILABLE;
          chunk.available++;
          if (outcome.attempted !== false) {
            chunk.attempts[i]++;
            chunk.hasAttempts = true;
          }
          const cursor = lane.scanAfter[p];
          if (cursor !== undefined && chunk.seq <= cursor) lane.scanAfter[p] = chunk.seq - 1;
        }
      }
      this.unsaved.add(chunk);
    }
    return new Promise((resolve, reject) => {
      this.settleWaiters.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  split(lease: Lease, groupOf: (point: DataPoint, index: number) => number): Lease[] {
    if (this.closed) throw closedError();
    const record = this.leases.get(lease.id);
    if (!record) throw new Error(`[bifrost] split: lease ${lease.id} is unknown or already settled`);
    const groups = new Map<number, { parts: Map<LiveChunk, number[]>; points: DataPoint[]; attempts: number }>();
    let index = 0;
    for (const { chunk, idx } of record.parts) {
      for (const i of idx) {
        const point = chunk.points[i];
        const key = groupOf(point, index++);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { parts: new Map(), points: [], attempts: 0 }));
        const part = g.parts.get(chunk);
        if (part) part.push(i);
        else g.parts.set(chunk, [i]);
        g.points.push(point);
        if (chunk.attempts[i] > g.attempts) g.attempts = chunk.attempts[i];
      }
    }
    this.leases.delete(lease.id);
    return [...groups.keys()]
      .sort((a, b) => a - b)
      .map((key) => {
        const g = groups.get(key)!;
        const id = ++this.leaseSeq;
        this.leases.set(id, {
          connector: record.connector,
          parts: [...g.parts].map(([chunk, idx]) => ({ chunk, idx })),
        });
        return { id, connector: record.connector, points: g.points, attempts: g.attempts };
      });
  }

  async expire(now = Date.now()): Promise<Record<string, number>> {
    if (this.closed) throw closedError();
    const cs = new ChangeSet();
    try {
      for (const [connector, lane] of this.lanes) {
        const ttl = lane.settings.ttlMs;
        if (!ttl) continue;
        for (let p = 0; p < PRIORITIES; p++) {
          if (lane.points[p] - lane.leased[p] <= 0) continue;
          this.forEachOldest(
            connector,
            p,
            cs,
            (meta) => meta.enqueuedAt <= now - ttl,
            (chunk, i) => {
              cs.remove(chunk, i);
              cs.count(cs.expired, connector, 1);
              cs.deadLetters.push({
                connector,
                priority: p,
                point: chunk.points[i],
                code: TTL_EXPIRED_CODE,
                reason: `not delivered within ttl ${ttl} ms`,
                attempts: chunk.attempts[i],
                time: now,
              });
              return true;
            },
          );
        }
      }
    } catch (err) {
      throw this.storageFailure('reading queued points failed', err);
    }
    this.commit(cs);
    return Object.fromEntries(cs.expired);
  }

  stats(connector: string): LaneStats {
    const lane = this.lanes.get(connector);
    if (!lane) return { points: 0, bytes: 0, inFlight: 0, dropped: 0, expired: 0, deadLetters: 0 };
    if (lane.oldestStale && !this.closed) {
      try {
        let oldest: ChunkMeta | undefined;
        for (let p = 0; p < PRIORITIES; p++) {
          if (!lane.points[p]) continue;
          const first = this.store.scanLane(connector, p, false, undefined, 1)[0];
          if (first && (oldest === undefined || first.enqueuedAt < oldest.enqueuedAt)) oldest = first;
        }
        lane.oldest = oldest?.enqueuedAt;
        lane.oldestSeq = oldest?.seq;
        lane.oldestStale = false;
      } catch {
        // stats must not throw; a storage problem already shows in health()
      }
    }
    const s: LaneStats = {
      points: sum(lane.points),
      bytes: sum(lane.bytes),
      inFlight: sum(lane.leased),
      dropped: lane.dropped,
      expired: lane.expired,
      deadLetters: lane.deadLetters,
    };
    if (s.points > 0 && lane.oldest !== undefined) s.oldestEnqueuedAt = lane.oldest;
    return s;
  }

  connectors(): string[] {
    return [...this.lanes.keys()];
  }

  async listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetterEntry[]> {
    if (this.closed) throw closedError();
    checkDeadLetterFilter(filter);
    this.commit(new ChangeSet()); // settled dead letters not stored yet
    try {
      return this.store.listDeadLetters(filter).map(({ priority: _priority, ...entry }) => entry);
    } catch (err) {
      throw this.storageFailure('reading dead letters failed', err);
    }
  }

  async replayDeadLetters(filter: DeadLetterFilter = {}): Promise<number> {
    if (this.closed) throw closedError();
    checkDeadLetterFilter(filter);
    this.commit(new ChangeSet());
    const cs = new ChangeSet();
    let rows;
    try {
      rows = this.store.listDeadLetters(filter);
    } catch (err) {
      throw this.storageFailure('reading dead letters failed', err);
    }
    const groups = new Map<string, typeof rows>();
    for (const r of rows) {
      const key = `${r.connector}\u0000${r.priority}`;
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
    const now = Date.now();
    for (const g of groups.values()) {
      const points = g.map((r) => r.point);
      const { payload, sizes } = encodeChunk(points);
      cs.inserts.push({
        connector: g[0].connector,
        priority: g[0].priority,
        enqueuedAt: now,
        points,
        payload,
        sizes,
        attempts: g.map((r) => r.attempts),
      });
      cs.addDelta(g[0].connector, g[0].priority, g.length, sum(sizes));
    }
    cs.removedDeadLetters = rows.map((r) => r.seq);
    this.commit(cs);
    return rows.length;
  }

  async purgeDeadLetters(filter: DeadLetterFilter = {}): Promise<number> {
    if (this.closed) throw closedError();
    checkDeadLetterFilter(filter);
    this.commit(new ChangeSet());
    const cs = new ChangeSet();
    try {
      cs.removedDeadLetters = this.store.listDeadLetters(filter).map((r) => r.seq);
    } catch (err) {
      throw this.storageFailure('reading dead letters failed', err);
    }
    this.commit(cs);
    return cs.removedDeadLetters.length;
  }

  health(): { ok: boolean; reason?: string } {
    return { ...this.healthState };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.leases.clear();
    this.live.clear();
    this.hot.clear();
    this.hotBytes = 0;
    this.onClose?.();
    const totals: LaneTotal[] = [];
    for (const [connector, lane] of this.lanes) {
      for (let p = 0; p < PRIORITIES; p++)
        if (lane.points[p]) totals.push({ connector, priority: p, points: lane.points[p], bytes: lane.bytes[p] });
    }
    this.store.close(totals, !this.sawStorageError);
  }

  private lane(connector: string): LaneState {
    let lane = this.lanes.get(connector);
    if (!lane) {
      lane = {
        settings: { ...this.defaults },
        points: new Array(PRIORITIES).fill(0),
        bytes: new Array(PRIORITIES).fill(0),
        leased: new Array(PRIORITIES).fill(0),
        dropped: 0,
        expired: 0,
        deadLetters: 0,
        oldest: undefined,
        oldestSeq: undefined,
        oldestStale: true,
        scanAfter: new Array(PRIORITIES).fill(undefined),
      };
      this.lanes.set(connector, lane);
    }
    return lane;
  }

  /** The parsed chunk `seq` if memory holds it; a cached new chunk moves to `live` to be used. */
  private parsed(seq: number): LiveChunk | undefined {
    const known = this.live.get(seq);
    if (known) return known;
    const cached = this.hot.get(seq);
    if (!cached) return undefined;
    this.hot.delete(seq);
    this.hotBytes -= cached.bytes;
    this.live.set(seq, cached.chunk);
    return cached.chunk;
  }

  private load(seq: number, connector: string, priority: number): LiveChunk {
    const body = this.store.readChunk(seq);
    const state = new Uint8Array(body.points.length);
    if (body.removed) for (let i = 0; i < state.length; i++) if (isRemoved(body.removed, i)) state[i] = GONE;
    const attempts = body.attempts ? [...body.attempts] : new Array<number>(body.points.length).fill(0);
    const chunk = new LiveChunk(seq, connector, priority, body.points, body.sizes, state, attempts);
    this.live.set(seq, chunk);
    return chunk;
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
    for (const chunk of this.laneChunks(connector, p, descending, start)) {
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

  /**
   * The chunks of a lane's priority in lease order after `after` (exclusive), parsed. A lane's seqs
   * are consecutive, so the chunk after the previous one is taken from memory without a query when
   * memory holds it; otherwise the store is read a page at a time.
   */
  private *laneChunks(
    connector: string,
    priority: number,
    descending: boolean,
    after: number | undefined,
  ): Generator<LiveChunk> {
    for (;;) {
      if (after !== undefined) {
        const seq = descending ? after - 1 : after + 1;
        const next = this.live.get(seq) ?? this.hot.get(seq)?.chunk;
        if (next && next.connector === connector && next.priority === priority) {
          after = seq;
          yield this.parsed(seq)!;
          continue;
        }
      }
      const page = this.store.scanLane(connector, priority, descending, after, SCAN_PAGE);
      if (!page.length) return;
      for (const meta of page) {
        after = meta.seq;
        yield this.parsed(meta.seq) ?? this.load(meta.seq, connector, priority);
      }
    }
  }

  /** Drops parsed chunks with no leased point beyond the cache size (never during a scan: callers collect first). */
  private trimCache(): void {
    if (this.live.size <= IDLE_CHUNK_CACHE) return;
    let idle = 0;
    for (const c of this.live.values()) if (c.leased === 0) idle++;
    for (const [seq, c] of this.live) {
      if (idle <= IDLE_CHUNK_CACHE) break;
      if (c.leased === 0 && !this.unsaved.has(c)) {
        this.live.delete(seq);
        idle--;
      }
    }
  }

  /**
   * Visits the unleased points of a lane from the oldest chunk on while `chunkMatches`; `visit`
   * returns false to stop.
   */
  private forEachOldest(
    connector: string,
    priority: number,
    cs: ChangeSet,
    chunkMatches: (m: ChunkMeta) => boolean,
    visit: (chunk: LiveChunk, i: number) => boolean,
  ): void {
    let after: number | undefined;
    for (;;) {
      const page = this.store.scanLane(connector, priority, false, after, SCAN_PAGE);
      if (!page.length) return;
      for (const meta of page) {
        after = meta.seq;
        if (!chunkMatches(meta)) return;
        const known = this.parsed(meta.seq);
        if (known && known.available === 0) continue;
        const chunk = known ?? this.load(meta.seq, connector, priority);
        for (let i = 0; i < chunk.points.length; i++) {
          if (chunk.state[i] === AVAILABLE && !cs.isRemoved(chunk, i) && !visit(chunk, i)) return;
        }
      }
    }
  }

  /** Group commit: every enqueue call gathered since the last turn, in one transaction. */
  private flush(): void {
    this.flushScheduled = false;
    const calls = this.pending;
    this.pending = [];
    const cs = new ChangeSet();
    const done: Array<{ call: PendingEnqueue; result: EnqueueResult }> = [];
    const refused = new Set<PendingEnqueue>();
    /** Accepted points per connector, per priority: each becomes one chunk. */
    const building = new Map<string, EncodedItem[][]>();
    const now = Date.now();
    try {
      for (const call of calls) {
        const byConnector = new Map<string, EncodedItem[]>();
        for (const item of call.items) {
          const e = { item, size: this.lane(item.connector).settings.maxBytes > 0 ? sizeEstimate(item.point) : 0 };
          const list = byConnector.get(item.connector);
          if (list) list.push(e);
          else byConnector.set(item.connector, [e]);
        }
        const full = [...byConnector].find(
          ([c, list]) => this.lane(c).settings.whenFull === 'block' && this.overflow(c, cs, list).any,
        );
        if (full) {
          refused.add(call);
          call.reject(new QueueFullError(full[0]));
          continue;
        }
        const result: EnqueueResult = { accepted: 0, dropped: {} };
        for (const [connector, list] of byConnector) {
          const { kept, dropped } = this.makeRoom(connector, cs, list);
          if (dropped) {
            result.dropped[connector] = dropped;
            cs.count(cs.dropped, connector, dropped);
          }
          let lanes = building.get(connector);
          if (!lanes) building.set(connector, (lanes = []));
          for (const e of kept) {
            const p = e.item.priority;
            (lanes[p] ??= []).push(e);
            cs.addDelta(connector, p, 1, e.size);
          }
          result.accepted += kept.length;
        }
        done.push({ call, result });
      }
      for (const [connector, lanes] of building) {
        lanes.forEach((list, priority) => {
          if (!list?.length) return;
          const points = list.map((e) => e.item.point);
          const { payload, sizes } = encodeChunk(points);
          cs.inserts.push({ connector, priority, enqueuedAt: now, points, payload, sizes, attempts: null });
          // Replace the placement estimates by the stored sizes.
          cs.addDelta(connector, priority, 0, sum(sizes) - list.reduce((n, e) => n + e.size, 0));
        });
      }
      this.commit(cs);
    } catch (err) {
      const failure = this.storageFailure('enqueue failed', err);
      for (const call of calls) if (!refused.has(call)) call.reject(failure);
      const waiters = this.settleWaiters;
      this.settleWaiters = [];
      for (const w of waiters) w.reject(failure);
      return;
    }
    for (const { call, result } of done) call.resolve(result);
  }

  /** Projected totals of a connector with this commit's changes so far, and whether `incoming` would overflow. */
  private overflow(connector: string, cs: ChangeSet, incoming: readonly EncodedItem[]) {
    const lane = this.lane(connector);
    let points = sum(lane.points);
    let bytes = sum(lane.bytes);
    const d = cs.laneDelta.get(connector);
    if (d) {
      points += sum(d.points);
      bytes += sum(d.bytes);
    }
    const { maxPoints, maxBytes } = lane.settings;
    const inBytes = incoming.reduce((n, e) => n + e.size, 0);
    const excessPoints = maxPoints > 0 ? Math.max(0, points + incoming.length - maxPoints) : 0;
    const excessBytes = maxBytes > 0 ? Math.max(0, bytes + inBytes - maxBytes) : 0;
    return { any: excessPoints > 0 || excessBytes > 0, excessPoints, excessBytes };
  }

  /** Applies `when_full` (drop_newest / drop_oldest): the incoming points to queue and how many points were dropped. */
  private makeRoom(
    connector: string,
    cs: ChangeSet,
    incoming: EncodedItem[],
  ): { kept: EncodedItem[]; dropped: number } {
    let { any, excessPoints, excessBytes } = this.overflow(connector, cs, incoming);
    if (!any) return { kept: incoming, dropped: 0 };
    const policy = this.lane(connector).settings.whenFull;
    if (policy === 'drop_oldest') {
      let freed = 0;
      for (let p = 0; p < PRIORITIES && (excessPoints > 0 || excessBytes > 0); p++) {
        this.forEachOldest(
          connector,
          p,
          cs,
          () => true,
          (chunk, i) => {
            cs.remove(chunk, i);
            freed++;
            excessPoints--;
            excessBytes -= chunk.sizes[i];
            return excessPoints > 0 || excessBytes > 0;
          },
        );
      }
      let start = 0;
      while (start < incoming.length && (excessPoints > 0 || excessBytes > 0)) {
        excessPoints--;
        excessBytes -= incoming[start++].size;
      }
      return { kept: incoming.slice(start), dropped: freed + start };
    }
    let end = incoming.length;
    while (end > 0 && (excessPoints > 0 || excessBytes > 0)) {
      excessPoints--;
      excessBytes -= incoming[--end].size;
    }
    return { kept: incoming.slice(0, end), dropped: incoming.length - end };
  }

  /** Writes a change set in one transaction, then applies it to memory. */
  /** Writes a change set, and every settled change not stored yet, in one transaction; then applies it to memory. */
  private commit(cs: ChangeSet): void {
    const waiters = this.settleWaiters;
    if (cs.isEmpty() && !this.unsaved.size && !this.pendingDeadLetters.length) {
      this.settleWaiters = [];
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      this.store.transaction(() => this.persist(cs));
    } catch (err) {
      const failure = this.storageFailure('write failed', err);
      this.settleWaiters = [];
      for (const w of waiters) w.reject(failure);
      throw failure;
    }
    this.healthState = { ok: true };
    for (const chunk of cs.deleted) {
      const lane = this.lane(chunk.connector);
      if (lane.oldestSeq === chunk.seq) lane.oldestStale = true;
    }
    for (const chunk of this.unsaved) if (chunk.gone === chunk.points.length) this.live.delete(chunk.seq);
    this.unsaved.clear();
    this.pendingDeadLetters = [];
    this.settleWaiters = [];
    this.apply(cs);
    for (const w of waiters) w.resolve();
  }

  private persist(cs: ChangeSet): void {
    for (const chunk of cs.inserts) cs.insertedSeqs.push(this.store.insertChunk(chunk));
    for (const chunk of new Set([...cs.gone.keys(), ...this.unsaved])) {
      const gone = cs.gone.get(chunk);
      let bitmap = chunk.removed;
      let count = chunk.gone;
      if (gone) {
        bitmap = bitmap.slice();
        for (const i of gone)
          if (!isRemoved(bitmap, i)) {
            setRemoved(bitmap, i);
            count++;
          }
      }
      if (count === chunk.points.length) {
        this.store.deleteChunk(chunk.seq);
        cs.deleted.push(chunk);
        continue;
      }
      this.store.writeChunkState(chunk.seq, bitmap, chunk.hasAttempts ? chunk.attempts : null);
    }
    const deadLetters = this.pendingDeadLetters.length
      ? [...this.pendingDeadLetters, ...cs.deadLetters]
      : cs.deadLetters;
    if (deadLetters.length) this.store.addDeadLetters(deadLetters);
    if (cs.removedDeadLetters.length) this.store.removeDeadLetters(cs.removedDeadLetters);
  }

  private apply(cs: ChangeSet): void {
    for (const [chunk, set] of cs.gone) {
      const lane = this.lane(chunk.connector);
      for (const i of set) {
        if (chunk.state[i] === LEASED) {
          chunk.leased--;
          lane.leased[chunk.priority]--;
        } else chunk.available--;
        chunk.markGone(i);
      }
      if (chunk.gone === chunk.points.length) this.live.delete(chunk.seq);
    }
    // A new chunk stays parsed when nothing else waits in its lane (a consumer that keeps up leases
    // it next), or behind a backlog while the memory cache has room.
    cs.inserts.forEach((c, k) => {
      const lane = this.lane(c.connector);
      const seq = cs.insertedSeqs[k];
      const idle = lane.points[c.priority] - lane.leased[c.priority] <= 0;
      const bytes = idle ? 0 : sum(c.sizes);
      if (!idle && this.hotBytes + bytes > this.memoryCacheBytes) return;
      const chunk = new LiveChunk(
        seq,
        c.connector,
        c.priority,
        c.points,
        c.sizes,
        new Uint8Array(c.points.length),
        c.attempts ? [...c.attempts] : new Array<number>(c.points.length).fill(0),
      );
      if (idle) {
        this.live.set(seq, chunk);
      } else {
        this.hot.set(seq, { chunk, bytes });
        this.hotBytes += bytes;
      }
    });
    for (const [connector, d] of cs.laneDelta) {
      const lane = this.lane(connector);
      for (let p = 0; p < PRIORITIES; p++) {
        lane.points[p] += d.points[p];
        lane.bytes[p] += d.bytes[p];
      }
      // New chunks are younger than the oldest one, unless the lane was empty.
      if (lane.oldest === undefined) lane.oldestStale = true;
    }
    for (const [c, n] of cs.dropped) this.lane(c).dropped += n;
    for (const [c, n] of cs.expired) this.lane(c).expired += n;
    for (const d of cs.deadLetters) this.lane(d.connector).deadLetters++;
    this.trimCache();
  }

  private storageFailure(what: string, err: unknown): QueueStorageError {
    this.sawStorageError = true;
    const e =
      err instanceof QueueStorageError
        ? err
        : new QueueStorageError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.healthState = { ok: false, reason: e.message };
    return e;
  }
}

/**
 * Upper bound of the bytes a point adds to a chunk: its JSON plus the per-field overhead of the
 * column layout when it is alone in a chunk (bigger chunks store it in less).
 */
function sizeEstimate(point: DataPoint): number {
  return Buffer.byteLength(JSON.stringify(point)) + 32;
}

function closedError(): Error {
  return new Error('[bifrost] the queue is closed');
}
