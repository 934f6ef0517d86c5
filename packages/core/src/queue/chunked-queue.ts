// ChunkedQueue: the DurableQueue over a ChunkStore, the same for every store. Owns the public
// methods, closing, health and the group commit (enqueues, settles, drops, expiry and dead-letter
// changes of one event-loop turn in one transaction, their promises settled after it). The work is
// done by: lanes.ts (per-lane counts, stats), leases.ts (lease, settle, split), chunk-cache.ts
// (parsed chunks, eviction, lane walks), enqueue.ts (limits, when_full, new chunks), expiry.ts
// (TTL, dead-letter replay) and commit.ts (what a commit writes, then applies to memory).
import type { DataPoint } from '../data-point.js';
import { ChangeSet } from './change-set.js';
import { ChunkCache, DEFAULT_MEMORY_CACHE_BYTES } from './chunk-cache.js';
import type { ChunkStore, DamagedChunkError, NewDeadLetter } from './chunk-store.js';
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
  type QueueHealth,
  type QueueIncident,
  type QueueIntegrity,
} from './types.js';

/* eslint-disable @typescript-eslint/require-await -- the DurableQueue methods are async so that every
   throw becomes a rejection; most of them complete synchronously. */

export { DEFAULT_MEMORY_CACHE_BYTES } from './chunk-cache.js';
export { TTL_EXPIRED_CODE } from './expiry.js';

/**
 * Disk space set aside so that acks and deletions can still be stored when the disk is full: given
 * back when a write finds the disk full, taken again once there is room.
 */
export interface SpaceReserve {
  /** Whether a storage error means the disk (or the file's size cap) is full. */
  isFull(err: unknown): boolean;
  /** Frees the reserved space (the disk is full). */
  release(): void;
  /** While the disk is full, after each commit: gives the space the commit's log took back, so the next one finds room. */
  relieve(): void;
  /** Tries to take the reserved space again (and to give free pages of the file back); true when it did. */
  restore(): boolean;
}

/** How often, at most, a queue whose disk is full tries to take its reserve again. */
const PRESSURE_RETRY_MS = 500;

/**
 * {@link DurableQueue} over a {@link ChunkStore}: lanes, priorities, leases, limits, ttl and dead
 * letters, the same for every store. Points are stored in chunks (one per lane per commit); concurrent
 * `enqueue` calls are group-committed in one transaction on the next event-loop turn. Leases live in
 * memory only, so reopening a store releases all of them.
 */
export class ChunkedQueue implements DurableQueue {
  private lanes: Lanes;
  private cache: ChunkCache;
  private leases: LeaseBook;
  private readonly cacheBytes: number;
  private readonly salvageStore?: (reason: string) => ChunkStore;
  /** Leases with an id up to this one were handed out before a salvage replaced the store. */
  private staleLeasesUpTo = 0;
  /** A salvage for lane counts the store could not back up was tried (once per open). */
  private salvagedForCounts = false;
  private salvagesWithoutCommit = 0;
  private pending: PendingEnqueue[] = [];
  private flushScheduled = false;
  private closed = false;
  private healthState: { ok: boolean; reason?: string } = { ok: true };
  private readonly reserve?: SpaceReserve;
  /** Set while the disk is full: new points are refused, acks and deletions are stored. */
  private pressureSince: number | undefined;
  private lastReserveTry = 0;
  /** Unacknowledged incidents of the store, read again when they change. */
  private incidents: QueueIncident[] | undefined;
  /** Incidents the store could not record (its file refused the write); kept until acknowledged. */
  private unrecorded: QueueIncident[] = [];
  private readonly onClose?: (points: number, clean: boolean) => void;
  private readonly schedule: (flush: () => void) => void;
  private sawStorageError = false;
  /** Dead letters of settled leases, stored by the next commit. */
  private pendingDeadLetters: NewDeadLetter[] = [];
  private settleWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(
    private store: ChunkStore,
    options: {
      defaults?: Partial<LaneSettings>;
      /** Called once the store is closed, with the points left queued and whether it closed cleanly. */
      onClose?: (points: number, clean: boolean) => void;
      /**
       * How long a group commit gathers calls: until the next event-loop turn (default; lets I/O
       * callbacks join a durable commit) or only the current one (`queueMicrotask`, for memory).
       */
      schedule?: (flush: () => void) => void;
      /** Default {@link DEFAULT_MEMORY_CACHE_BYTES}; see `QueueOptions.memoryCacheBytes`. */
      memoryCacheBytes?: number;
      /** Space given back when the disk is full, so that acks still commit (durable stores). */
      reserve?: SpaceReserve;
      /** The disk was already full when the store was opened: start by refusing new points. */
      startFull?: boolean;
      /**
       * Closes a store found damaged while running, salvages its file and returns a store on the
       * new one (durable stores); the queue then goes on from what the salvage recovered.
       */
      salvage?: (reason: string) => ChunkStore;
    } = {},
  ) {
    const cacheBytes = options.memoryCacheBytes ?? DEFAULT_MEMORY_CACHE_BYTES;
    if (!(Number.isSafeInteger(cacheBytes) && cacheBytes >= 0))
      throw new TypeError(
        `[bifrost] queue: memoryCacheBytes must be a non-negative integer, got ${JSON.stringify(cacheBytes)}`,
      );
    this.cacheBytes = cacheBytes;
    this.lanes = new Lanes(options.defaults);
    this.cache = this.newCache();
    this.reserve = options.reserve;
    this.salvageStore = options.salvage;
    if (options.startFull) this.enterPressure(new QueueStorageError('the disk was full when the queue was opened'));
    this.leases = new LeaseBook(this.lanes, this.cache);
    this.onClose = options.onClose;
    this.schedule = options.schedule ?? setImmediate;
    this.lanes.load(store.readLaneTotals());
  }

  private newCache(): ChunkCache {
    return new ChunkCache(
      this.store,
      this.cacheBytes,
      (err, connector, priority) => this.quarantine(err, connector, priority),
      (seq, connector, reason) =>
        this.recordIncident({
          time: Date.now(),
          kind: 'state',
          connector,
          message: `state of chunk ${seq} of connector "${connector}" is damaged (${reason}): its points are delivered again`,
        }),
    );
  }

  /**
   * The store's file turned out damaged while running: salvage it and go on from what was recovered.
   * Leases open now are forgotten (their points are queued again, so delivered again: at-least-once),
   * lane settings and counters carry over. False when there is no salvage or it failed.
   */
  private salvageNow(reason: string): boolean {
    // A file that is damaged again at once is not salvaged in a loop.
    if (!this.salvageStore || this.closed || this.salvagesWithoutCommit >= 2) return false;
    this.salvagesWithoutCommit++;
    let store: ChunkStore;
    try {
      store = this.salvageStore(reason);
    } catch (err) {
      this.healthState = { ok: false, reason: `the queue file is damaged and could not be salvaged: ${String(err)}` };
      return false;
    }
    const old = this.lanes;
    this.store = store;
    this.lanes = new Lanes(old.defaults);
    for (const [connector, lane] of old.byConnector) {
      const fresh = this.lanes.get(connector);
      fresh.settings = lane.settings;
      fresh.dropped = lane.dropped;
      fresh.expired = lane.expired;
      fresh.deadLetters = lane.deadLetters;
      fresh.quarantined = lane.quarantined;
    }
    this.cache = this.newCache();
    this.staleLeasesUpTo = this.leases.leaseSeq;
    this.leases = new LeaseBook(this.lanes, this.cache, this.leases.leaseSeq);
    this.pendingDeadLetters = [];
    this.incidents = undefined;
    this.lanes.load(store.readLaneTotals());
    if (this.pressureSince === undefined) this.healthState = { ok: true };
    return true;
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
    for (let salvaged = false; ; salvaged = true) {
      let lease: Lease | null;
      try {
        lease = this.leases.lease(connector, max);
      } catch (err) {
        if (!salvaged && this.store.isDamage(err) && this.salvageNow(String(err))) continue;
        throw this.storageFailure('reading queued points failed', err);
      }
      if (salvaged) return lease;
      // Rows skipped past a damaged page, or counts no chunk backs: salvage, which reads every row.
      if (this.store.sawDamage && this.salvageNow('lane scans met pages SQLite cannot read')) continue;
      if (!lease && this.lanes.available(connector) > 0 && !this.salvagedForCounts && this.salvageStore) {
        this.salvagedForCounts = true;
        if (this.salvageNow(`lane "${connector}" counts points no readable chunk holds`)) continue;
      }
      return lease;
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
    // Handed out before a salvage: its points are queued again in the new file.
    if (lease.id <= this.staleLeasesUpTo) return;
    this.leases.settle(lease, outcome, this.pendingDeadLetters);
    return new Promise((resolve, reject) => {
      this.settleWaiters.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  split(lease: Lease, groupOf: (point: DataPoint, index: number) => number): Lease[] {
    if (this.closed) throw closedError();
    if (lease.id <= this.staleLeasesUpTo) return splitStale(lease, groupOf);
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

  health(): QueueHealth {
    if (this.pressureSince !== undefined && !this.closed) this.tryLeavePressure();
    const h: QueueHealth = { ...this.healthState };
    const open = this.openIncidents();
    if (open.length) {
      const first = open[0]!;
      h.degraded = `${open.length} unacknowledged queue integrity incident${open.length > 1 ? 's' : ''} (first: ${first.message}); acknowledge with POST /api/cloud/queue/acknowledge`;
    }
    return h;
  }

  integrity(): QueueIntegrity {
    const incidents = this.openIncidents();
    let quarantined = 0;
    let recovered = 0;
    let lost = 0;
    for (const i of incidents) {
      if (i.kind === 'quarantine') quarantined += i.lost ?? 0;
      else lost += i.lost ?? 0;
      recovered += i.recovered ?? 0;
    }
    return { incidents, quarantined, recovered, lost };
  }

  async acknowledgeIntegrity(): Promise<number> {
    if (this.closed) throw closedError();
    let n = this.unrecorded.length;
    this.unrecorded = [];
    try {
      n += this.store.transaction(() => this.store.acknowledgeIncidents());
    } catch (err) {
      throw this.storageFailure('acknowledging incidents failed', err);
    } finally {
      this.incidents = undefined;
    }
    return n;
  }

  private openIncidents(): QueueIncident[] {
    if (this.incidents === undefined && !this.closed) {
      try {
        this.incidents = this.store.listIncidents();
      } catch (err) {
        return [
          ...this.unrecorded,
          {
            id: 0,
            time: Date.now(),
            kind: 'quarantine',
            message: `incidents cannot be read: ${String(err)}`,
            lost: null,
          },
        ];
      }
    }
    return [...(this.incidents ?? []), ...this.unrecorded];
  }

  /** Records an incident in the store, or in memory when the store cannot take it. */
  private recordIncident(i: Omit<QueueIncident, 'id'>): void {
    try {
      this.store.transaction(() => this.store.addIncident(i));
    } catch {
      this.unrecorded.push({ ...i, id: -(this.unrecorded.length + 1) });
    }
    this.incidents = undefined;
  }

  /** Takes a damaged chunk out of its lane into quarantine; false when the store could not remove it. */
  private quarantine(err: DamagedChunkError, connector: string, priority: number): boolean {
    // SQLite cannot read the row here: skip it for now, the lease salvages the file (which reads
    // every row on its own) and leases again.
    if (!err.raw && this.salvageStore) return false;
    const now = Date.now();
    let removed: { points: number; bytes: number } | undefined;
    try {
      removed = this.store.transaction(() => this.store.quarantineChunk(err, connector, priority, now));
    } catch (writeErr) {
      this.sawStorageError = true;
      this.unrecorded.push({
        id: -(this.unrecorded.length + 1),
        time: now,
        kind: 'quarantine',
        connector,
        message: `${err.message}; it could not be moved to quarantine (${String(writeErr)}) and is skipped; the file is salvaged at the next lease or start`,
        lost: null,
      });
    }
    this.incidents = undefined;
    this.lanes.quarantine(connector, priority, removed?.points ?? 0, removed?.bytes ?? 0);
    return removed !== undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.leases.clear();
    this.cache.clear();
    const totals = this.lanes.totals();
    this.store.close(totals, !this.sawStorageError);
    this.onClose?.(
      totals.reduce((n, t) => n + t.points, 0),
      !this.sawStorageError,
    );
  }

  /** Group commit: every enqueue call gathered since the last turn, in one transaction. */
  private flush(): void {
    this.flushScheduled = false;
    let calls = this.pending;
    this.pending = [];
    if (this.closed) {
      for (const call of calls) call.reject(closedError());
      return;
    }
    if (this.pressureSince !== undefined) this.tryLeavePressure();
    if (this.pressureSince !== undefined && calls.length) {
      const refusal = new QueueStorageError(
        'the disk is full: new points are refused until there is room again (queued points are still delivered and their acks stored)',
      );
      for (const call of calls) call.reject(refusal);
      calls = [];
    }
    const cs = new ChangeSet();
    const refused = new Set<PendingEnqueue>();
    let done;
    try {
      done = placeEnqueues(calls, this.lanes, this.cache, cs, Date.now(), refused);
      this.commit(cs);
    } catch (err) {
      if (err instanceof SalvagedError || (this.store.isDamage(err) && this.salvageNow(String(err)))) {
        // Placed again on the salvaged file.
        this.pending.unshift(...calls.filter((c) => !refused.has(c)));
        this.scheduleFlush();
        return;
      }
      const failure = this.storageFailure('enqueue failed', err);
      for (const call of calls) if (!refused.has(call)) call.reject(failure);
      if (this.pressureSince !== undefined && this.settleWaiters.length) {
        // The disk just filled: store the acks alone, in the space the reserve gave back.
        try {
          this.commit(new ChangeSet());
        } catch {
          // commit rejected the settle waiters; their points stay queued (at-least-once).
        }
        return;
      }
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
      if (this.store.isDamage(err) && this.salvageNow(String(err))) {
        // The settled state went with the damaged file: those points are queued again.
        this.settleWaiters = [];
        for (const w of waiters) w.resolve();
        throw new SalvagedError();
      }
      const failure = this.storageFailure('write failed', err);
      if (this.reserve?.isFull(err) && this.pressureSince === undefined) {
        this.enterPressure(failure);
        this.settleWaiters = waiters;
        // New points wait: flush stores the settles alone. Without any, try again at once with
        // the space the reserve gave back (once: the queue is now in its full-disk state).
        if (cs.inserts.length) throw failure;
        return this.commit(cs);
      }
      this.settleWaiters = [];
      for (const w of waiters) w.reject(failure);
      throw failure;
    }
    this.salvagesWithoutCommit = 0;
    if (this.pressureSince === undefined) this.healthState = { ok: true };
    else {
      this.relieve();
      // Deletions gave pages back: the next flush may take the reserve again at once.
      if (cs.deleted.length) this.lastReserveTry = 0;
    }
    this.pendingDeadLetters = [];
    this.settleWaiters = [];
    apply(cs, this.lanes, this.cache);
    for (const w of waiters) w.resolve();
  }

  /** The disk is full: give the reserve back so that acks commit, and refuse new points until it can be taken again. */
  private enterPressure(failure: QueueStorageError): void {
    this.pressureSince = Date.now();
    this.lastReserveTry = this.pressureSince;
    this.healthState = { ok: false, reason: failure.message };
    this.reserve?.release();
    this.relieve();
  }

  private relieve(): void {
    try {
      this.reserve?.relieve();
    } catch {
      // Still full: the next commit tries again.
    }
  }

  /** Leaves the full-disk state once the reserve can be taken again (at most every {@link PRESSURE_RETRY_MS}). */
  private tryLeavePressure(): void {
    const now = Date.now();
    if (now - this.lastReserveTry < PRESSURE_RETRY_MS) return;
    this.lastReserveTry = now;
    let restored = false;
    try {
      restored = this.reserve?.restore() ?? true;
    } catch {
      restored = false;
    }
    if (!restored) return;
    this.pressureSince = undefined;
    this.healthState = { ok: true };
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

/** A commit met a damaged file, which was salvaged: flush places its calls again; other callers retry. */
class SalvagedError extends QueueStorageError {
  constructor() {
    super('the queue file was found damaged and was salvaged into a new file; retry');
  }
}

/** `split` of a lease handed out before a salvage: the same groups, each as stale as the lease (settling them does nothing). */
function splitStale(lease: Lease, groupOf: (point: DataPoint, index: number) => number): Lease[] {
  const groups = new Map<number, DataPoint[]>();
  lease.points.forEach((p, i) => {
    const key = groupOf(p, i);
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  });
  return [...groups.keys()]
    .sort((a, b) => a - b)
    .map((key) => ({ id: lease.id, connector: lease.connector, points: groups.get(key)!, attempts: lease.attempts }));
}

function closedError(): Error {
  return new Error('[bifrost] the queue is closed');
}
