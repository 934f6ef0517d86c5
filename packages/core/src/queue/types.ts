// The public queue types: DurableQueue, lane settings, leases and outcomes, dead letters, options,
// QueueFullError and QueueStorageError.
import type { DataPoint } from '../data-point.js';

/** What a full lane does with new points: wait (backpressure, REST 503), or drop and count. */
export type WhenFull = 'block' | 'drop_oldest' | 'drop_newest';

/**
 * Durability versus speed. `always`: fsync on every commit (survives power loss, slowest).
 * `batch`: one commit per group of concurrent ingests, WAL synchronous=NORMAL, fsync at a
 * checkpoint every `syncIntervalMs` (survives process crash / `kill -9`; a power cut may lose up to
 * that interval). `interval`: commit with synchronous=OFF and checkpoint every `syncIntervalMs`
 * (fastest; a crash of the OS may lose up to that interval).
 */
export type SyncMode = 'always' | 'batch' | 'interval';

/** Per-connector lane settings; gateway-wide defaults apply where a connector sets none. */
export interface LaneSettings {
  /** Most points queued for this connector; 0 = unlimited. */
  maxPoints: number;
  /** Most payload bytes queued for this connector; 0 = unlimited. */
  maxBytes: number;
  whenFull: WhenFull;
  /** Points older than this (by enqueue time) move to the dead-letter table with code `BIFROST_ERR_TTL_EXPIRED`; 0 = never. */
  ttlMs: number;
  /** Which end of each priority lane is leased first. */
  order: 'oldest_first' | 'newest_first';
}

export const DEFAULT_LANE_SETTINGS: LaneSettings = {
  maxPoints: 1_000_000,
  maxBytes: 0,
  whenFull: 'block',
  ttlMs: 0,
  order: 'oldest_first',
};

/** One point queued for one connector in priority lane 0..9 (9 first). */
export interface EnqueueItem {
  connector: string;
  point: DataPoint;
  priority: number;
}

export interface EnqueueResult {
  /** Points now durably queued (per connector copy). */
  accepted: number;
  /** Points dropped by `drop_oldest` / `drop_newest`, per connector; always counted, never silent. */
  dropped: Record<string, number>;
}

/**
 * A batch handed to one delivery loop. Its points are invisible to other leases until the lease is
 * settled. All leases are released when the queue is reopened (the process died mid-delivery).
 */
export interface Lease {
  readonly id: number;
  readonly connector: string;
  readonly points: readonly DataPoint[];
  /** Highest number of earlier delivery attempts among these points (0 = first try). */
  readonly attempts: number;
}

/** A point to move to the dead-letter table, and why. */
export interface DeadLetterItem {
  id: string;
  code: string;
  reason: string;
}

/**
 * How a lease ended. Points neither acked nor dead-lettered are released for another try
 * (attempts + 1, unless `attempted` is false).
 */
export interface LeaseOutcome {
  /** `all`, or the ids the remote side acknowledged. */
  acked: 'all' | readonly string[];
  deadLetter?: readonly DeadLetterItem[];
  /**
   * False when the points never reached the remote side (a batch leased ahead and given back, a
   * write the breaker refused): released points keep their attempt count. Default true.
   */
  attempted?: boolean;
}

export interface DeadLetterEntry {
  /** Row id in the dead-letter table (for replay / purge by id). */
  seq: number;
  connector: string;
  point: DataPoint;
  code: string;
  reason: string;
  attempts: number;
  /** Epoch ms when it was dead-lettered. */
  time: number;
}

export interface DeadLetterFilter {
  connector?: string;
  seqs?: number[];
  limit?: number;
  offset?: number;
}

export interface LaneStats {
  /** Points queued (including leased, not yet acked). */
  points: number;
  bytes: number;
  /** Points currently leased. */
  inFlight: number;
  /** Enqueue time (epoch ms) of the oldest queued point, if any. */
  oldestEnqueuedAt?: number;
  /** Totals since open. */
  dropped: number;
  expired: number;
  deadLetters: number;
  /** Points moved to quarantine since open (their chunk failed its checksum or could not be read). */
  quarantined: number;
}

/** What kind of damage an {@link QueueIncident} records. */
export type QueueIncidentKind =
  /** A chunk failed its checksum, could not be decoded or read: moved to the quarantine table. */
  | 'quarantine'
  /** A chunk's state row (acks, attempts) failed its checksum: its points are delivered again. */
  | 'state'
  /** The file was damaged at open: what SQLite could still read was copied into a new file. */
  | 'salvage'
  /** The file a queue was expected in was missing, empty or shorter than at its last close. */
  | 'missing'
  /** The write-ahead log of a file not closed cleanly was missing: its last commits may be lost. */
  | 'wal';

/** Damage the queue found and handled, kept (in the file) until an operator acknowledges it. */
export interface QueueIncident {
  id: number;
  /** Epoch ms. */
  time: number;
  kind: QueueIncidentKind;
  message: string;
  connector?: string;
  /** Points recovered (salvage). */
  recovered?: number;
  /** Points lost or quarantined; null when the damage hid how many. */
  lost?: number | null;
}

/** `DurableQueue.health()`. */
export interface QueueHealth {
  /** False after a storage error (disk full): `/ready` answers 503. */
  ok: boolean;
  reason?: string;
  /** Set while damage found in the file is not acknowledged: delivery goes on, health shows degraded. */
  degraded?: string;
}

/** `DurableQueue.integrity()`: the damage not acknowledged yet and the totals it adds up to. */
export interface QueueIntegrity {
  incidents: QueueIncident[];
  /** Points quarantined (unacknowledged incidents). */
  quarantined: number;
  /** Points recovered and lost by salvage (unacknowledged incidents; lost counts only what is known). */
  recovered: number;
  lost: number;
}

/** Thrown by `enqueue` when a `block` lane is full; nothing of that call was queued. */
export class QueueFullError extends Error {
  readonly code = 'BIFROST_ERR_QUEUE_FULL';
  constructor(
    readonly connector: string,
    readonly retryAfterMs = 1000,
  ) {
    super(`[bifrost] queue for connector "${connector}" is full (when_full: block); retry later`);
    this.name = 'QueueFullError';
  }
}

/** The queue cannot write (disk full, I/O error): health turns red; nothing already queued is lost. */
export class QueueStorageError extends Error {
  readonly code = 'BIFROST_ERR_QUEUE_STORAGE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(`[bifrost] queue storage: ${message}`, options);
    this.name = 'QueueStorageError';
  }
}

/**
 * The durable queue: per-connector lanes, priority 0..9, leases, dead letters. Two implementations
 * (memory and SQLite) pass the same test suite.
 */
export interface DurableQueue {
  /** Settings for a connector's lane (defaults otherwise). Call before enqueueing for it. */
  configureLane(connector: string, settings: Partial<LaneSettings>): void;
  /**
   * Queues every item in one transaction and resolves once it is durable per the sync mode
   * (concurrent callers share a commit). Throws {@link QueueFullError} if any `block` lane would
   * overflow (then nothing of this call is queued) or {@link QueueStorageError}.
   */
  enqueue(items: readonly EnqueueItem[]): Promise<EnqueueResult>;
  /** Leases up to `max` visible points of the connector, highest priority first; null when none. */
  lease(connector: string, max: number): Promise<Lease | null>;
  /** Ends a lease: acked points deleted, dead-lettered points moved, the rest released. */
  settle(lease: Lease, outcome: LeaseOutcome): Promise<void>;
  /**
   * Replaces an open lease by one lease per group (ascending group number), each settled on its
   * own; `groupOf` gets each point and its index in `lease.points`. Points keep their queue order
   * within a group. Nothing is stored: this only changes how the leased points are settled.
   */
  split(lease: Lease, groupOf: (point: DataPoint, index: number) => number): Lease[];
  /** Moves expired points (ttl) to the dead-letter table; returns how many per connector. */
  expire(now?: number): Promise<Record<string, number>>;
  stats(connector: string): LaneStats;
  /** Connectors that have a lane (configured or with queued points). */
  connectors(): string[];
  listDeadLetters(filter?: DeadLetterFilter): Promise<DeadLetterEntry[]>;
  /** Moves matching dead letters back into their connector's lane; returns how many. */
  replayDeadLetters(filter?: DeadLetterFilter): Promise<number>;
  purgeDeadLetters(filter?: DeadLetterFilter): Promise<number>;
  /**
   * Not ok, with a reason, after a storage error (disk full); cleared by the next successful write.
   * `degraded` while {@link DurableQueue.integrity} lists damage not acknowledged yet.
   */
  health(): QueueHealth;
  /** Damage found in the queue's storage (quarantined chunks, a salvaged or missing file) not acknowledged yet. */
  integrity(): QueueIntegrity;
  /** Acknowledges every incident {@link DurableQueue.integrity} lists (health is no longer degraded by them); returns how many. */
  acknowledgeIntegrity(): Promise<number>;
  close(): Promise<void>;
}

/** Options shared by queue implementations. */
export interface QueueOptions {
  sync?: SyncMode;
  /** Checkpoint (fsync) period for `sync: batch` and `interval`. Default 1000 ms. */
  syncIntervalMs?: number;
  /** Compress stored payload chunks (SQLite). */
  compression?: boolean;
  /**
   * Stored bytes of recently enqueued points kept parsed in memory while a backlog waits ahead of
   * them, so that delivering them reads nothing back from storage (about 2-3x this in heap). Default
   * 8 MiB; 0 keeps only the chunks a consumer that keeps up takes next.
   */
  memoryCacheBytes?: number;
  defaults?: Partial<LaneSettings>;
}
