// ChunkedQueue: the DurableQueue over a ChunkStore, the same for every store. Owns the public
// methods, closing, health and the group commit (enqueues, settles, drops, expiry and dead-letter
// changes of one event-loop turn in one transaction, their promises settled after it). The work is
// done by: lanes.ts (per-lane counts, stats), leases.ts (lease, settle, split), chunk-cache.ts
// (parsed chunks, eviction, lane walks), enqueue.ts (limits, when_full, new chunks), expiry.ts
// (TTL, dead-letter replay) and commit.ts (what a commit writes, then applies to memory).
import type { DataPoint } from '../data-point.js';
import { ChangeSet } from './change-set.js';
import { ChunkCache, DEFAULT_MEMORY_CACHE_BYTES } from './chunk-cache.js';
import type { ChunkStore, NewDeadLetter } from './chunk-store.js';
import { apply, persist } from './commit.js';
import { checkDeadLetterFilter } from './dead-letter-filter.js';
import { placeEnqueues, type PendingEnqueue } from './enqueue.js';
import { collectExpired, replayInto } from './expiry.js';
import { Lanes } from './lanes.js';
import { LeaseBook } from './leases.js';
import { checkEnqueueItems } from './validate.js';
import {
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

/* eslint-disable @typescript-eslint/require-await -- the DurableQueue methods are async so that every
   throw becomes a rejection; most of them complete synchronously. */

export { DEFAULT_MEMORY_CACHE_BYTES } from './chunk-cache.js';
export { TTL_EXPIRED_CODE } from './expiry.js';

/**
 * {@link DurableQueue} over a {@link ChunkStore}: lanes, priorities, leases, limits, ttl and dead
 * letters, the same for every store. Points are stored in chunks (one per lane per commit); concurrent
 * `enqueue` calls are group-committed in one transaction on the next event-loop turn. Leases live in
 * memory only, so reopening a store releases all of them.
 */
export class ChunkedQueue implements DurableQueue {
  private readonly lanes: Lanes;
  private readonly cache: ChunkCache;
  private readonly leases: LeaseBook;
  private pending: PendingEnqueue[] = [];
  private flushScheduled = false;
  private closed = false;
  private healthState: { ok: boolean; reason?: string } = { ok: true };
  private readonly onClose?: () => void;
  private readonly schedule: (flush: () => void) => void;
  private sawStorageError = false;
  /** Dead letters of settled leases, stored by the next commit. */
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
    this.lanes = new Lanes(options.defaults);
    this.cache = new ChunkCache(store, cacheBytes);
    this.leases = new LeaseBook(this.lanes, this.cache);
    this.onClose = options.onClose;
    this.schedule = options.schedule ?? setImmediate;
    this.lanes.load(store.readLaneTotals());
  }

  configureLane(connector: string, settings: Partial<LaneSettings>): void {
    if (typeof connector !== 'string' || !connector)
      throw new TypeError('[bifrost] configureLane: connector must be a non-empty string');
    this.lanes.configure(connector, settings);
  }

  enqueue(items: readonly EnqueueItem[]): Promise<EnqueueResult> {
    if (this.closed) return Promise.reject(closedError());
    try {
      checkEnqueueItems(items);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
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
    try {
      return this.leases.lease(connector, max);
    } catch (err) {
      throw this.storageFailure('reading queued points failed', err);
    }
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
    this.leases.settle(lease, outcome, this.pendingDeadLetters);
    return new Promise((resolve, reject) => {
      this.settleWaiters.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  split(lease: Lease, groupOf: (point: DataPoint, index: number) => number): Lease[] {
    if (this.closed) throw closedError();
    return this.leases.split(lease, groupOf);
  }

  async expire(now = Date.now()): Promise<Record<string, number>> {
    if (this.closed) throw closedError();
    const cs = new ChangeSet();
    try {
      collectExpired(this.lanes, this.cache, cs, now);
    } catch (err) {
      throw this.storageFailure('reading queued points failed', err);
    }
    this.commit(cs);
    return Object.fromEntries(cs.expired);
  }

  stats(connector: string): LaneStats {
    return this.lanes.stats(connector, this.closed ? null : this.store);
  }

  connectors(): string[] {
    return [...this.lanes.byConnector.keys()];
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
    replayInto(rows, cs, Date.now());
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
    this.cache.clear();
    this.onClose?.();
    this.store.close(this.lanes.totals(), !this.sawStorageError);
  }

  /** Group commit: every enqueue call gathered since the last turn, in one transaction. */
  private flush(): void {
    this.flushScheduled = false;
    const calls = this.pending;
    this.pending = [];
    const cs = new ChangeSet();
    const refused = new Set<PendingEnqueue>();
    let done;
    try {
      done = placeEnqueues(calls, this.lanes, this.cache, cs, Date.now(), refused);
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

  /** Writes a change set, and every settled change not stored yet, in one transaction; then applies it to memory. */
  private commit(cs: ChangeSet): void {
    const waiters = this.settleWaiters;
    if (cs.isEmpty() && !this.cache.unsaved.size && !this.pendingDeadLetters.length) {
      this.settleWaiters = [];
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      this.store.transaction(() => persist(this.store, cs, this.cache, this.pendingDeadLetters));
    } catch (err) {
      const failure = this.storageFailure('write failed', err);
      this.settleWaiters = [];
      for (const w of waiters) w.reject(failure);
      throw failure;
    }
    this.healthState = { ok: true };
    this.pendingDeadLetters = [];
    this.settleWaiters = [];
    apply(cs, this.lanes, this.cache);
    for (const w of waiters) w.resolve();
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

function closedError(): Error {
  return new Error('[bifrost] the queue is closed');
}
