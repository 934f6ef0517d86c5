// The ChunkStore interface between ChunkedQueue and its storage (memory-store.ts, sqlite-store.ts),
// and the row shapes they exchange.
import type { DataPoint } from '../data-point.js';
import type { RemovedBitmap } from './removed-bitmap.js';
import type { DeadLetterEntry, DeadLetterFilter, QueueIncident } from './types.js';

/**
 * Storage underneath {@link ChunkedQueue}. Points are stored in chunks: one chunk holds the points
 * of one (connector, priority) lane committed together, so a commit writes one row however many
 * points it carries (as Fluent Bit chunks and Kafka record batches do). Per-point state (removed by
 * ack / dead letter / drop / expiry, delivery attempts) is kept beside the immutable payload.
 *
 * All methods are synchronous; write methods are only called inside {@link ChunkStore.transaction}.
 */
export interface ChunkStore {
  /** Runs `fn` atomically: everything it wrote is committed, or nothing when it throws. */
  transaction<T>(fn: () => T): T;
  /** Stores a new chunk and returns its sequence number (increasing with every insert). */
  insertChunk(chunk: NewChunk): number;
  /** Up to `limit` chunks of a lane in sequence order (descending when asked), after `afterSeq` in that order. */
  scanLane(
    connector: string,
    priority: number,
    descending: boolean,
    afterSeq: number | undefined,
    limit: number,
  ): ChunkMeta[];
  /**
   * The points of chunk `seq`. Throws {@link DamagedChunkError} when the row fails its checksum,
   * cannot be decoded or cannot be read because the file is damaged there.
   */
  readChunk(seq: number): ChunkBody;
  /**
   * Moves a damaged chunk out of its lane into quarantine (with its raw bytes when they could be
   * read) and records an incident; returns the points and bytes it held, as far as they are known.
   */
  quarantineChunk(
    err: DamagedChunkError,
    connector: string,
    priority: number,
    time: number,
  ): { points: number; bytes: number };
  /** Whether an error the store threw says its file is damaged (then the queue salvages it, when it can). */
  isDamage(err: unknown): boolean;
  /** Whether reads met damage the store worked around (rows skipped): the file wants a salvage. */
  readonly sawDamage: boolean;
  /** Records damage for an operator to acknowledge. */
  addIncident(incident: Omit<QueueIncident, 'id'>): void;
  /** Incidents not acknowledged yet, oldest first. */
  listIncidents(): QueueIncident[];
  /** Marks every incident acknowledged; returns how many were not yet. */
  acknowledgeIncidents(): number;
  /** Records which points of a chunk are gone and the per-point attempts (null = all 0). */
  writeChunkState(seq: number, removed: RemovedBitmap, attempts: readonly number[] | null): void;
  deleteChunk(seq: number): void;
  /** Per-lane totals, read once on open (the backlog itself is not loaded). */
  readLaneTotals(): LaneTotal[];
  addDeadLetters(rows: readonly NewDeadLetter[]): void;
  listDeadLetters(filter: DeadLetterFilter): StoredDeadLetter[];
  removeDeadLetters(seqs: readonly number[]): void;
  /**
   * Closes the store. `totals` are the lane totals to keep for a fast next open; `clean` is false
   * when a storage error was seen, so that the next open checks the whole file.
   */
  close(totals: readonly LaneTotal[], clean: boolean): void;
}

/** A chunk row as stored, for quarantine: whatever of it could be read. */
export interface RawChunk {
  codec: number;
  payload: Uint8Array;
  sizes: Uint8Array;
  /** The stored removed bitmap, when there is one. */
  removed: Uint8Array | null;
}

/** A chunk that failed its checksum, could not be decoded or could not be read at all (`raw` null). */
export class DamagedChunkError extends Error {
  constructor(
    readonly seq: number,
    readonly reason: string,
    readonly raw: RawChunk | null,
  ) {
    super(`[bifrost] queue chunk ${seq} is damaged: ${reason}`);
    this.name = 'DamagedChunkError';
  }
}

/** Where a chunk sits; its points are read only when a lease, a drop or an expiry needs them. */
export interface ChunkMeta {
  seq: number;
  enqueuedAt: number;
}

export interface NewChunk {
  connector: string;
  priority: number;
  enqueuedAt: number;
  points: readonly DataPoint[];
  /** The points as `encodeChunk` (chunk-codec.ts) wrote them (what durable stores keep). */
  payload: Uint8Array;
  /** Payload bytes each point accounts for. */
  sizes: readonly number[];
  /** Carried over for replayed dead letters; null = all 0. */
  attempts: readonly number[] | null;
}

export interface ChunkBody {
  points: DataPoint[];
  /** Serialized size of each point in bytes (counts against `max_bytes`). */
  sizes: number[];
  /** Null when none is. */
  removed: RemovedBitmap | null;
  attempts: readonly number[] | null;
  /** Set when the chunk's state row failed its checksum: then no point counts as removed (delivered again). */
  stateDamaged?: string;
}

/** Points and bytes queued in one (connector, priority) lane. */
export interface LaneTotal {
  connector: string;
  priority: number;
  points: number;
  bytes: number;
}

export type NewDeadLetter = Omit<DeadLetterEntry, 'seq'> & { priority: number };
export type StoredDeadLetter = DeadLetterEntry & { priority: number };
