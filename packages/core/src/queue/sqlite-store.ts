// The SQLite ChunkStore: chunk rows in per-lane rowid ranges, payload codecs (typed columns, raw or
// deflated), per-chunk state (removed bitmap, attempts), lane totals kept over a clean close or
// recounted after a crash, and the dead-letter table. The layout is sqlite-schema.ts's.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { DataPoint } from '../data-point.js';
import { decodeChunk } from './chunk-codec.js';
import { isRemoved, type RemovedBitmap } from './removed-bitmap.js';
import type {
  ChunkBody,
  ChunkMeta,
  ChunkStore,
  LaneTotal,
  NewChunk,
  NewDeadLetter,
  StoredDeadLetter,
} from './chunk-store.js';
import type { DeadLetterFilter } from './types.js';

/**
 * Stored payload encodings of a chunk (`chunks.codec`): `encodeChunk`'s typed columns, raw or
 * deflated. (0 and 1 were JSON-column payloads of development builds and are never written or read.)
 */
const CODEC_TYPED_COLUMNS = 2;
const CODEC_DEFLATE_TYPED_COLUMNS = 3;

/**
 * The chunks of one (connector, priority) lane occupy the rowid range (base, base + LANE_SPAN), with
 * base = (connector id * 10 + priority) * LANE_SPAN: a lane is scanned on the primary key, so no
 * secondary index is written on every commit. Bases stay below 2^53 for up to 13,000 connectors.
 */
const LANE_SPAN = 2 ** 36;
const MAX_CONNECTOR_ID = Math.floor((2 ** 53 / LANE_SPAN - 10) / 10);

const LANE_SCAN = 'SELECT seq, enqueued_at AS enqueuedAt FROM chunks WHERE seq > ? AND seq < ?';
const SQL = {
  insertChunk:
    'INSERT INTO chunks (seq, connector, priority, enqueued_at, codec, payload, sizes) VALUES (?, ?, ?, ?, ?, ?, ?)',
  lastInLane: 'SELECT max(seq) AS m FROM chunks WHERE seq > ? AND seq < ?',
  connectorIds: 'SELECT name, id FROM connectors',
  insertConnector: 'INSERT INTO connectors (name, id) VALUES (?, ?)',
  insertState:
    'INSERT INTO chunk_state (seq, removed, attempts) VALUES (?, ?, ?) ON CONFLICT (seq) DO UPDATE SET removed = excluded.removed, attempts = excluded.attempts',
  scanAsc: `${LANE_SCAN} ORDER BY seq LIMIT ?`,
  scanDesc: `${LANE_SCAN} ORDER BY seq DESC LIMIT ?`,
  readChunk:
    'SELECT c.codec, c.payload, c.sizes, s.removed, s.attempts FROM chunks c LEFT JOIN chunk_state s ON s.seq = c.seq WHERE c.seq = ?',
  deleteChunk: 'DELETE FROM chunks WHERE seq = ?',
  deleteState: 'DELETE FROM chunk_state WHERE seq = ?',
  laneTotals: 'SELECT connector, priority, points, bytes FROM lanes',
  chunkSizes:
    'SELECT c.connector, c.priority, c.sizes, s.removed FROM chunks c LEFT JOIN chunk_state s ON s.seq = c.seq',
  insertLane: 'INSERT INTO lanes (connector, priority, points, bytes) VALUES (?, ?, ?, ?)',
  setClean: "UPDATE meta SET value = ? WHERE key = 'clean_close'",
  insertDead:
    'INSERT INTO dead_letters (connector, priority, code, reason, attempts, time, point) VALUES (?, ?, ?, ?, ?, ?, ?)',
  listDead: `SELECT seq, connector, priority, code, reason, attempts, time, point FROM dead_letters
      WHERE (?1 IS NULL OR connector = ?1) AND (?2 IS NULL OR seq IN (SELECT value FROM json_each(?2)))
      ORDER BY seq LIMIT ?3 OFFSET ?4`,
  deleteDead: 'DELETE FROM dead_letters WHERE seq = ?',
} as const;

type StatementName = keyof typeof SQL;

/**
 * {@link ChunkStore} in one SQLite file (node:sqlite). A chunk is one row whose payload holds all
 * its points; acks and dead letters of single points are recorded in `chunk_state` so the payload
 * row is never rewritten. Lane totals are written to `lanes` on a clean close, so the next open
 * reads no backlog; after a crash they are recounted from the chunks (their sizes, not payloads).
 */
export class SqliteChunkStore implements ChunkStore {
  private readonly st: Record<StatementName, StatementSync>;
  private connectorIds = new Map<string, number>();
  /** Next free rowid per lane base, found on first use. */
  private readonly nextSeq = new Map<number, number>();

  constructor(
    private readonly db: DatabaseSync,
    private readonly compress: boolean,
    private readonly closedCleanly: boolean,
  ) {
    this.st = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as Record<
      StatementName,
      StatementSync
    >;
    this.loadConnectorIds();
    // From now until a clean close, `lanes` is stale.
    this.st.setClean.run('0');
  }

  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      // Connector ids handed out in the rolled-back transaction do not exist.
      this.loadConnectorIds();
      this.nextSeq.clear();
      throw err;
    }
  }

  private loadConnectorIds(): void {
    const rows = this.st.connectorIds.all() as Array<{ name: string; id: number }>;
    this.connectorIds = new Map(rows.map((r) => [r.name, r.id]));
  }

  /** Rowid base of a lane; `create` registers an unknown connector (inside a transaction). */
  private laneBase(connector: string, priority: number, create: boolean): number | undefined {
    let id = this.connectorIds.get(connector);
    if (id === undefined) {
      if (!create) return undefined;
      id = this.connectorIds.size + 1;
      if (id > MAX_CONNECTOR_ID) throw new Error(`more than ${MAX_CONNECTOR_ID} connectors in one queue file`);
      this.st.insertConnector.run(connector, id);
      this.connectorIds.set(connector, id);
    }
    return (id * 10 + priority) * LANE_SPAN;
  }

  insertChunk(c: NewChunk): number {
    const deflate = this.compress;
    const payload = deflate ? deflateRawSync(c.payload, { level: 1 }) : c.payload;
    const sizes = new Uint8Array(Uint32Array.from(c.sizes).buffer);
    const base = this.laneBase(c.connector, c.priority, true)!;
    const seq =
      this.nextSeq.get(base) ??
      ((this.st.lastInLane.get(base, base + LANE_SPAN) as { m: number | null }).m ?? base) + 1;
    this.nextSeq.set(base, seq + 1);
    this.st.insertChunk.run(
      seq,
      c.connector,
      c.priority,
      c.enqueuedAt,
      deflate ? CODEC_DEFLATE_TYPED_COLUMNS : CODEC_TYPED_COLUMNS,
      payload,
      sizes,
    );
    if (c.attempts?.some((a) => a > 0))
      this.st.insertState.run(seq, new Uint8Array((c.points.length + 7) >> 3), JSON.stringify(c.attempts));
    return seq;
  }

  scanLane(
    connector: string,
    priority: number,
    descending: boolean,
    afterSeq: number | undefined,
    limit: number,
  ): ChunkMeta[] {
    const base = this.laneBase(connector, priority, false);
    if (base === undefined) return [];
    const rows = descending
      ? this.st.scanDesc.all(base, afterSeq ?? base + LANE_SPAN, limit)
      : this.st.scanAsc.all(afterSeq ?? base, base + LANE_SPAN, limit);
    return rows as unknown as ChunkMeta[];
  }

  readChunk(seq: number): ChunkBody {
    const row = this.st.readChunk.get(seq) as
      | {
          codec: number;
          payload: Uint8Array;
          sizes: Uint8Array;
          removed: Uint8Array | null;
          attempts: string | null;
        }
      | undefined;
    if (!row) throw new Error(`queue chunk ${seq} not found`);
    const sizes = Array.from(new Uint32Array(row.sizes.slice().buffer));
    return {
      points: decodePayload(row.codec, row.payload),
      sizes,
      removed: row.removed,
      attempts: row.attempts ? (JSON.parse(row.attempts) as number[]) : null,
    };
  }

  writeChunkState(seq: number, removed: RemovedBitmap, attempts: readonly number[] | null): void {
    this.st.insertState.run(seq, removed, attempts ? JSON.stringify(attempts) : null);
  }

  deleteChunk(seq: number): void {
    this.st.deleteChunk.run(seq);
    this.st.deleteState.run(seq);
  }

  readLaneTotals(): LaneTotal[] {
    if (this.closedCleanly) return this.st.laneTotals.all() as unknown as LaneTotal[];
    const totals = new Map<string, LaneTotal>();
    for (const row of this.st.chunkSizes.iterate() as Iterable<{
      connector: string;
      priority: number;
      sizes: Uint8Array;
      removed: Uint8Array | null;
    }>) {
      const sizes = new Uint32Array(row.sizes.slice().buffer);
      const removed = row.removed;
      let points = 0;
      let bytes = 0;
      let i = 0;
      for (const size of sizes) {
        if (!removed || !isRemoved(removed, i)) {
          points++;
          bytes += size;
        }
        i++;
      }
      const key = `${row.connector}\u0000${row.priority}`;
      const t = totals.get(key) ?? { connector: row.connector, priority: row.priority, points: 0, bytes: 0 };
      t.points += points;
      t.bytes += bytes;
      totals.set(key, t);
    }
    return [...totals.values()];
  }

  addDeadLetters(rows: readonly NewDeadLetter[]): void {
    for (const r of rows)
      this.st.insertDead.run(r.connector, r.priority, r.code, r.reason, r.attempts, r.time, JSON.stringify(r.point));
  }

  listDeadLetters(filter: DeadLetterFilter): StoredDeadLetter[] {
    const rows = this.st.listDead.all(
      filter.connector ?? null,
      filter.seqs ? JSON.stringify(filter.seqs) : null,
      filter.limit ?? -1,
      filter.offset ?? 0,
    ) as Array<Omit<StoredDeadLetter, 'point'> & { point: string }>;
    return rows.map((r) => ({ ...r, point: JSON.parse(r.point) as DataPoint }));
  }

  removeDeadLetters(seqs: readonly number[]): void {
    for (const s of seqs) this.st.deleteDead.run(s);
  }

  close(totals: readonly LaneTotal[], clean: boolean): void {
    if (!this.db.isOpen) return;
    try {
      this.transaction(() => {
        this.db.exec('DELETE FROM lanes');
        for (const t of totals) this.st.insertLane.run(t.connector, t.priority, t.points, t.bytes);
        this.st.setClean.run(clean ? '1' : '0');
      });
      this.db.exec('PRAGMA synchronous=NORMAL; PRAGMA wal_checkpoint(TRUNCATE);');
    } catch {
      // Not marked clean: the next open recounts and checks the whole file.
    } finally {
      this.db.close();
    }
  }
}

function decodePayload(codec: number, payload: Uint8Array): DataPoint[] {
  switch (codec) {
    case CODEC_TYPED_COLUMNS:
      return decodeChunk(payload);
    case CODEC_DEFLATE_TYPED_COLUMNS:
      return decodeChunk(inflateRawSync(payload));
    default:
      throw new Error(`queue chunk payload has unknown codec ${codec}`);
  }
}
