// The memory ChunkStore: chunks, state and dead letters in maps; nothing survives the process.
import type {
  ChunkBody,
  ChunkMeta,
  ChunkStore,
  LaneTotal,
  NewChunk,
  NewDeadLetter,
  StoredDeadLetter,
} from './chunk-store.js';
import type { DeadLetterFilter, QueueIncident } from './types.js';
import { filterDeadLetters } from './dead-letter-filter.js';
import type { RemovedBitmap } from './removed-bitmap.js';

interface MemoryChunk extends ChunkMeta {
  points: ChunkBody['points'];
  sizes: number[];
  removed: RemovedBitmap | null;
  attempts: readonly number[] | null;
}

/** Sequence numbers of one lane in ascending order; deleted ones are skipped and compacted lazily. */
class LaneIndex {
  seqs: number[] = [];
  dead = 0;

  scan(
    chunks: Map<number, MemoryChunk>,
    descending: boolean,
    afterSeq: number | undefined,
    limit: number,
  ): ChunkMeta[] {
    const out: ChunkMeta[] = [];
    const s = this.seqs;
    if (!descending) {
      // i stays within 0..s.length - 1 in both loops.
      for (let i = afterSeq === undefined ? 0 : upperBound(s, afterSeq); i < s.length && out.length < limit; i++) {
        const c = chunks.get(s[i]!);
        if (c) out.push(c);
      }
    } else {
      for (
        let i = (afterSeq === undefined ? s.length : lowerBound(s, afterSeq)) - 1;
        i >= 0 && out.length < limit;
        i--
      ) {
        const c = chunks.get(s[i]!);
        if (c) out.push(c);
      }
    }
    return out;
  }

  compactIfSparse(chunks: Map<number, MemoryChunk>): void {
    if (this.dead > 64 && this.dead * 2 > this.seqs.length) {
      this.seqs = this.seqs.filter((seq) => chunks.has(seq));
      this.dead = 0;
    }
  }
}

/** First index whose value is > x. */
function upperBound(a: number[], x: number): number {
  let lo = 0,
    hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1; // lo <= mid < hi <= a.length
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is >= x. */
function lowerBound(a: number[], x: number): number {
  let lo = 0,
    hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1; // lo <= mid < hi <= a.length
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Chunk store kept in process memory: nothing survives a restart. Writes cannot fail. */
export class MemoryChunkStore implements ChunkStore {
  private readonly chunks = new Map<number, MemoryChunk>();
  private readonly lanes = new Map<string, LaneIndex>();
  private readonly chunkLane = new Map<number, LaneIndex>();
  private readonly deadLetters = new Map<number, StoredDeadLetter>();
  private seq = 0;
  private deadSeq = 0;
  private readonly incidents: QueueIncident[] = [];
  private readonly acknowledged = new Set<number>();

  transaction<T>(fn: () => T): T {
    return fn();
  }

  insertChunk(c: NewChunk): number {
    const seq = ++this.seq;
    const key = `${c.connector}\u0000${c.priority}`;
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = new LaneIndex()));
    lane.seqs.push(seq);
    this.chunkLane.set(seq, lane);
    this.chunks.set(seq, {
      seq,
      enqueuedAt: c.enqueuedAt,
      points: [...c.points],
      sizes: [...c.sizes],
      removed: null,
      attempts: c.attempts,
    });
    return seq;
  }

  scanLane(
    connector: string,
    priority: number,
    descending: boolean,
    afterSeq: number | undefined,
    limit: number,
  ): ChunkMeta[] {
    return this.lanes.get(`${connector}\u0000${priority}`)?.scan(this.chunks, descending, afterSeq, limit) ?? [];
  }

  readChunk(seq: number): ChunkBody {
    const c = this.chunks.get(seq);
    if (!c) throw new Error(`[bifrost] queue chunk ${seq} not found`);
    return { points: c.points, sizes: c.sizes, removed: c.removed, attempts: c.attempts };
  }

  writeChunkState(seq: number, removed: RemovedBitmap, attempts: readonly number[] | null): void {
    const c = this.chunks.get(seq);
    // A copy: the queue keeps updating its own bitmap after the commit.
    if (c) {
      c.removed = removed.slice();
      c.attempts = attempts && [...attempts];
    }
  }

  deleteChunk(seq: number): void {
    if (!this.chunks.delete(seq)) return;
    const lane = this.chunkLane.get(seq);
    this.chunkLane.delete(seq);
    if (lane) {
      lane.dead++;
      lane.compactIfSparse(this.chunks);
    }
  }

  readLaneTotals(): LaneTotal[] {
    return [];
  }

  addDeadLetters(rows: readonly NewDeadLetter[]): void {
    for (const r of rows) {
      const seq = ++this.deadSeq;
      this.deadLetters.set(seq, { ...r, seq });
    }
  }

  listDeadLetters(filter: DeadLetterFilter): StoredDeadLetter[] {
    return filterDeadLetters([...this.deadLetters.values()], filter);
  }

  removeDeadLetters(seqs: readonly number[]): void {
    for (const s of seqs) this.deadLetters.delete(s);
  }

  readonly sawDamage = false;

  isDamage(): boolean {
    return false;
  }

  /** Memory is never found damaged: nothing is quarantined. */
  quarantineChunk(): { points: number; bytes: number } {
    return { points: 0, bytes: 0 };
  }

  addIncident(i: Omit<QueueIncident, 'id'>): void {
    this.incidents.push({ ...i, id: this.incidents.length + 1 });
  }

  listIncidents(): QueueIncident[] {
    return this.incidents.filter((i) => !this.acknowledged.has(i.id));
  }

  acknowledgeIncidents(): number {
    const open = this.listIncidents();
    for (const i of open) this.acknowledged.add(i.id);
    return open.length;
  }

  close(): void {}
}
