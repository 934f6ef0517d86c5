// The chunk cache: which stored chunks are kept parsed in memory, and how the queue reaches a
// lane's chunks in lease order. Owns `live` (chunks a lease, drop or expiry touched; the idle ones
// beyond IDLE_CHUNK_CACHE are evicted), `hot` (new chunks kept parsed behind a backlog, up to
// `memoryCacheBytes`), `unsaved` (chunks whose settled state is not stored yet, never evicted),
// reading a chunk back from the store, and the lane walks built on them.
import type { ChangeSet } from './change-set.js';
import { DamagedChunkError, type ChunkMeta, type ChunkStore, type NewChunk } from './chunk-store.js';
import { AVAILABLE, GONE, LiveChunk } from './live-chunk.js';
import { isRemoved } from './removed-bitmap.js';

/** Chunks with no leased point kept parsed in memory, so consecutive small leases do not re-read a chunk. */
const IDLE_CHUNK_CACHE = 32;
/** Default of `memoryCacheBytes`. */
export const DEFAULT_MEMORY_CACHE_BYTES = 8 * 1024 * 1024;
/** Chunks read per lane scan of the store. */
const SCAN_PAGE = 16;

export class ChunkCache {
  private readonly live = new Map<number, LiveChunk>();
  /**
   * New chunks kept parsed while a backlog waits ahead of them, up to `memoryCacheBytes` of stored
   * payload: the oldest of a burst or an outage are delivered first, so they are the ones kept, and
   * delivering them reads nothing back (Fluent Bit's `storage.max_chunks_up`). A chunk moves to
   * `live` when a lease, drop or expiry first touches it.
   */
  private readonly hot = new Map<number, { chunk: LiveChunk; bytes: number }>();
  private hotBytes = 0;
  /** Chunks whose settled state is not stored yet: kept parsed (never evicted) until it is. */
  readonly unsaved = new Set<LiveChunk>();

  /** Damaged chunks that could not be deleted from the store: lane walks pass over them. */
  private readonly skipped = new Set<number>();

  constructor(
    private readonly store: ChunkStore,
    private readonly memoryCacheBytes: number,
    /**
     * Takes a damaged chunk out of its lane (quarantine); returns false when the store could not
     * remove it, so that lane walks skip it from now on.
     */
    private readonly onDamaged: (err: DamagedChunkError, connector: string, priority: number) => boolean,
    /** A chunk's state row was damaged: its points are delivered again. */
    private readonly onStateDamaged: (seq: number, connector: string, reason: string) => void,
  ) {}

  /** The parsed chunk `seq` if memory holds it; a cached new chunk moves to `live` to be used. */
  parsed(seq: number): LiveChunk | undefined {
    const known = this.live.get(seq);
    if (known) return known;
    const cached = this.hot.get(seq);
    if (!cached) return undefined;
    this.hot.delete(seq);
    this.hotBytes -= cached.bytes;
    this.live.set(seq, cached.chunk);
    return cached.chunk;
  }

  /**
   * Reads chunk `seq` back from the store and keeps it parsed; undefined when it is damaged (then it
   * is quarantined and the lane moves on).
   */
  load(seq: number, connector: string, priority: number): LiveChunk | undefined {
    if (this.skipped.has(seq)) return undefined;
    let body;
    try {
      body = this.store.readChunk(seq);
    } catch (err) {
      if (!(err instanceof DamagedChunkError)) throw err;
      if (!this.onDamaged(err, connector, priority)) this.skipped.add(seq);
      return undefined;
    }
    if (body.stateDamaged) this.onStateDamaged(seq, connector, body.stateDamaged);
    const state = new Uint8Array(body.points.length);
    if (body.removed) for (let i = 0; i < state.length; i++) if (isRemoved(body.removed, i)) state[i] = GONE;
    const attempts = body.attempts ? [...body.attempts] : new Array<number>(body.points.length).fill(0);
    const chunk = new LiveChunk(seq, connector, priority, body.points, body.sizes, state, attempts);
    this.live.set(seq, chunk);
    return chunk;
  }

  /**
   * Keeps a chunk just stored parsed: in `live` when nothing else waits in its lane (`idle`: a
   * consumer that keeps up leases it next), or in `hot` behind a backlog while the memory cache has room.
   */
  keepNew(c: NewChunk, seq: number, idle: boolean, bytes: number): void {
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
  }

  /** Forgets a chunk whose points are all gone. */
  forget(chunk: LiveChunk): void {
    this.live.delete(chunk.seq);
  }

  clear(): void {
    this.live.clear();
    this.hot.clear();
    this.hotBytes = 0;
  }

  /**
   * The chunks of a lane's priority in lease order after `after` (exclusive), parsed. A lane's seqs
   * are consecutive, so the chunk after the previous one is taken from memory without a query when
   * memory holds it; otherwise the store is read a page at a time.
   */
  *laneChunks(
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
        const chunk = this.parsed(meta.seq) ?? this.load(meta.seq, connector, priority);
        if (chunk) yield chunk;
      }
    }
  }

  /**
   * Visits the unleased points of a lane not yet removed by `cs`, from the oldest chunk on while
   * `chunkMatches`; `visit` returns false to stop.
   */
  forEachOldest(
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
        if (!chunk) continue;
        for (let i = 0; i < chunk.points.length; i++) {
          if (chunk.state[i] === AVAILABLE && !cs.isRemoved(chunk, i) && !visit(chunk, i)) return;
        }
      }
    }
  }

  /** Drops parsed chunks with no leased point beyond the cache size (never during a scan: callers collect first). */
  trim(): void {
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
}
