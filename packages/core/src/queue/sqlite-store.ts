// The SQLite ChunkStore: chunk rows in per-lane rowid ranges, payload codecs (typed columns, raw or
// deflated), per-chunk state (removed bitmap, attempts), lane totals kept over a clean close or
// recounted after a crash, and the dead-letter table. The layout is sqlite-schema.ts's.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { DataPoint } from '../data-point.js';
import { chunkRowCrc, chunkStateCrc, type ChunkRowColumns } from './chunk-checksum.js';
import { decodeChunk } from './chunk-codec.js';
import { isRemoved, type RemovedBitmap } from './removed-bitmap.js';
import { inScanOrder, scanPastDamage } from './damaged-scan.js';
import { isDamage } from './sqlite-errors.js';
import {
  DamagedChunkError,
  type ChunkBody,
  type ChunkMeta,
  type ChunkStore,
  type LaneTotal,
  type NewChunk,
  type NewDeadLetter,
  type RawChunk,
  type StoredDeadLetter,
} from './chunk-store.js';
import type { DeadLetterFilter, QueueIncident } from './types.js';

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
export const LANE_SPAN = 2 ** 36;
const MAX_CONNECTOR_ID = Math.floor((2 ** 53 / LANE_SPAN - 10) / 10);

const LANE_SCAN = 'SELECT seq, enqueued_at AS enqueuedAt FROM chunks WHERE seq > ? AND seq < ?';
const SQL = {
  insertChunk:
    'INSERT INTO chunks (seq, connector, priority, enqueued_at, codec, payload, sizes, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  lastInLane: 'SELECT max(seq) AS m FROM chunks WHERE seq > ? AND seq < ?',
  connectorIds: 'SELECT name, id FROM connectors',
  insertConnector: 'INSERT INTO connectors (name, id) VALUES (?, ?)',
  insertState:
    'INSERT INTO chunk_state (seq, removed, attempts, crc) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO UPDATE SET removed = excluded.removed, attempts = excluded.attempts, crc = excluded.crc',
  scanAsc: `${LANE_SCAN} ORDER BY seq LIMIT ?`,
  scanDesc: `${LANE_SCAN} ORDER BY seq DESC LIMIT ?`,
  readChunk:
    'SELECT seq, connector, priority, enqueued_at AS enqueuedAt, codec, payload, sizes, crc FROM chunks WHERE seq = ?',
  readState: 'SELECT removed, attempts, crc FROM chunk_state WHERE seq = ?',
  insertQuarantine:
    'INSERT INTO quarantine (seq, connector, priority, points, reason, time, codec, payload, sizes, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  insertIncident: 'INSERT INTO incidents (time, kind, message, connector, recovered, lost) VALUES (?, ?, ?, ?, ?, ?)',
  openIncidents:
    'SELECT id, time, kind, message, connector, recovered, lost FROM incidents WHERE acknowledged = 0 ORDER BY id',
  acknowledge: 'UPDATE incidents SET acknowledged = 1 WHERE acknowledged = 0',
  deleteChunk: 'DELETE FROM chunks WHERE seq = ?',
  deleteState: 'DELETE FROM chunk_state WHERE seq = ?',
  laneTotals: 'SELECT connector, priority, points, bytes FROM lanes',
  chunkSizes:
    'SELECT c.connector, c.priority, c.sizes, s.removed FROM chunks c LEFT JOIN chunk_state s ON s.seq = c.seq',
  insertLane: 'INSERT INTO lanes (connector, priority, points, bytes) VALUES (?, ?, ?, ?)',
  setClean: "UPDATE meta SET value = ? WHERE key = 'clean_close'",
  getLanesCrc: "SELECT value FROM meta WHERE key = 'lanes_crc'",
  setLanesCrc:
    "INSERT INTO meta (key, value) VALUES ('lanes_crc', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
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
  /** Set once SQLite reported a damaged page: the file is not closed as clean, so the next open checks and salvages it. */
  sawDamage = false;

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
    const codec = deflate ? CODEC_DEFLATE_TYPED_COLUMNS : CODEC_TYPED_COLUMNS;
    const row = { seq, connector: c.connector, priority: c.priority, enqueuedAt: c.enqueuedAt, codec, payload, sizes };
    this.st.insertChunk.run(seq, c.connector, c.priority, c.enqueuedAt, codec, payload, sizes, chunkRowCrc(row));
    if (c.attempts?.some((a) => a > 0))
      this.writeChunkState(seq, new Uint8Array((c.points.length + 7) >> 3), c.attempts);
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
    const from = afterSeq ?? (descending ? base + LANE_SPAN : base);
    const query = (after: number, n: number) =>
      inScanOrder(
        (descending
          ? this.st.scanDesc.all(base, after, n)
          : this.st.scanAsc.all(after, base + LANE_SPAN, n)) as unknown as ChunkMeta[],
        'seq',
        after,
        descending ? base : base + LANE_SPAN,
        descending ? -1 : 1,
      );
    try {
      return query(from, limit);
    } catch (err) {
      if (!isDamage(err)) throw err;
      // Rows past the damage are skipped for now; a damaged read makes the queue salvage the file,
      // which reads every row.
      this.sawDamage = true;
      const one = (after: number) => query(after, 1);
      try {
        return one(from);
      } catch (oneErr) {
        if (!isDamage(oneErr)) throw oneErr;
        return scanPastDamage(one, from, descending ? base : base + LANE_SPAN, descending ? -1 : 1);
      }
    }
  }

  readChunk(seq: number): ChunkBody {
    let row: (ChunkRowColumns & { crc: number | null }) | undefined;
    try {
      row = this.st.readChunk.get(seq) as typeof row;
    } catch (err) {
      if (!isDamage(err)) throw err;
      this.sawDamage = true;
      throw new DamagedChunkError(seq, `SQLite cannot read the row: ${(err as Error).message}`, null);
    }
    // The lane scan found it: a row that is gone now was never there but for a damaged page.
    if (!row) throw new DamagedChunkError(seq, 'the row the lane scan found cannot be read', null);
    const state = this.readState(seq);
    const raw: RawChunk = { codec: row.codec, payload: row.payload, sizes: row.sizes, removed: state.removed };
    if (row.crc !== null && chunkRowCrc(row) !== row.crc) throw new DamagedChunkError(seq, 'checksum mismatch', raw);
    let points: DataPoint[];
    try {
      if (row.sizes.byteLength % 4) throw new Error(`sizes column of ${row.sizes.byteLength} bytes`);
      points = decodePayload(row.codec, row.payload);
    } catch (err) {
      throw new DamagedChunkError(seq, `cannot decode: ${(err as Error).message}`, raw);
    }
    const sizes = Array.from(new Uint32Array(row.sizes.slice().buffer));
    if (sizes.length !== points.length)
      throw new DamagedChunkError(seq, `${points.length} points but ${sizes.length} sizes`, raw);
    if (state.removed && state.removed.byteLength !== (points.length + 7) >> 3)
      return { points, sizes, removed: null, attempts: null, stateDamaged: 'removed bitmap of the wrong length' };
    if (state.attempts && state.attempts.length !== points.length)
      return { points, sizes, removed: null, attempts: null, stateDamaged: 'attempts of the wrong length' };
    return { points, sizes, removed: state.removed, attempts: state.attempts, stateDamaged: state.damaged };
  }

  /** The state row of a chunk; when it fails its checksum, none (its points are delivered again). */
  private readState(seq: number): { removed: Uint8Array | null; attempts: number[] | null; damaged?: string } {
    let row: { removed: Uint8Array; attempts: string | null; crc: number | null } | undefined;
    try {
      row = this.st.readState.get(seq) as typeof row;
    } catch (err) {
      if (!isDamage(err)) throw err;
      this.sawDamage = true;
      return { removed: null, attempts: null, damaged: `SQLite cannot read the state row: ${(err as Error).message}` };
    }
    if (!row) return { removed: null, attempts: null };
    if (row.crc !== null && chunkStateCrc(row.removed, row.attempts) !== row.crc)
      return { removed: null, attempts: null, damaged: 'state checksum mismatch' };
    try {
      const attempts = row.attempts ? (JSON.parse(row.attempts) as unknown) : null;
      if (attempts !== null && !(Array.isArray(attempts) && attempts.every((a) => Number.isInteger(a) && a >= 0)))
        throw new Error('attempts is not a list of counts');
      return { removed: row.removed, attempts: attempts as number[] | null };
    } catch (err) {
      return { removed: null, attempts: null, damaged: `cannot decode the state row: ${(err as Error).message}` };
    }
  }

  quarantineChunk(
    err: DamagedChunkError,
    connector: string,
    priority: number,
    time: number,
  ): { points: number; bytes: number } {
    const raw = err.raw;
    let points = 0;
    let bytes = 0;
    if (raw && raw.sizes.byteLength % 4 === 0) {
      const sizes = new Uint32Array(raw.sizes.slice().buffer);
      const removed = raw.removed?.byteLength === (sizes.length + 7) >> 3 ? raw.removed : null;
      sizes.forEach((size, i) => {
        if (removed && isRemoved(removed, i)) return;
        points++;
        bytes += size;
      });
    }
    const known = raw !== null;
    this.st.insertQuarantine.run(
      err.seq,
      connector,
      priority,
      known ? points : null,
      err.reason,
      time,
      raw?.codec ?? null,
      raw?.payload ?? null,
      raw?.sizes ?? null,
      raw?.removed ?? null,
    );
    // The row may sit on a page SQLite cannot read: then it stays, and the queue skips it.
    try {
      this.deleteChunk(err.seq);
    } catch (deleteErr) {
      if (!isDamage(deleteErr)) throw deleteErr;
      this.sawDamage = true;
    }
    this.addIncident({
      time,
      kind: 'quarantine',
      connector,
      message: `chunk ${err.seq} of connector "${connector}" (priority ${priority}) quarantined: ${err.reason}`,
      lost: known ? points : null,
    });
    return { points, bytes };
  }

  isDamage(err: unknown): boolean {
    return isDamage(err) || (err instanceof Error && isDamage(err.cause));
  }

  addIncident(i: Omit<QueueIncident, 'id'>): void {
    this.st.insertIncident.run(i.time, i.kind, i.message, i.connector ?? null, i.recovered ?? null, i.lost ?? null);
  }

  listIncidents(): QueueIncident[] {
    return (this.st.openIncidents.all() as Array<Record<string, unknown>>).map((r) => {
      const out: QueueIncident = {
        id: r.id as number,
        time: r.time as number,
        kind: r.kind as QueueIncident['kind'],
        message: r.message as string,
      };
      if (r.connector !== null) out.connector = r.connector as string;
      if (r.recovered !== null) out.recovered = r.recovered as number;
      if (r.kind !== 'state') out.lost = r.lost as number | null;
      return out;
    });
  }

  acknowledgeIncidents(): number {
    return Number(this.st.acknowledge.run().changes);
  }

  writeChunkState(seq: number, removed: RemovedBitmap, attempts: readonly number[] | null): void {
    const json = attempts ? JSON.stringify(attempts) : null;
    this.st.insertState.run(seq, removed, json, chunkStateCrc(removed, json));
  }

  deleteChunk(seq: number): void {
    this.st.deleteChunk.run(seq);
    this.st.deleteState.run(seq);
  }

  readLaneTotals(): LaneTotal[] {
    if (this.closedCleanly) {
      const kept = this.st.laneTotals.all() as unknown as LaneTotal[];
      // Kept totals that fail their checksum are recounted from the chunks.
      if (String(laneTotalsCrc(kept)) === this.st.getLanesCrc.get()?.value) return kept;
    }
    const totals = new Map<string, LaneTotal>();
    for (const row of this.st.chunkSizes.iterate() as Iterable<{
      connector: string;
      priority: number;
      sizes: Uint8Array;
      removed: Uint8Array | null;
    }>) {
      // A damaged sizes column is quarantined with its chunk when the chunk is read.
      if (row.sizes.byteLength % 4) continue;
      const sizes = new Uint32Array(row.sizes.slice().buffer);
      const removed = row.removed?.byteLength === (sizes.length + 7) >> 3 ? row.removed : null;
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
        this.st.setLanesCrc.run(String(laneTotalsCrc(this.st.laneTotals.all() as unknown as LaneTotal[])));
        this.st.setClean.run(clean && !this.sawDamage ? '1' : '0');
      });
      this.db.exec('PRAGMA synchronous=NORMAL; PRAGMA wal_checkpoint(TRUNCATE);');
    } catch {
      // Not marked clean: the next open recounts and checks the whole file.
    } finally {
      this.db.close();
    }
  }
}

/** CRC-32 of the lane totals kept over a clean close, in the order the `lanes` table returns them. */
function laneTotalsCrc(rows: readonly LaneTotal[]): number {
  return crc32(JSON.stringify(rows.map((t) => [t.connector, t.priority, t.points, t.bytes])));
}

/** The points of a stored payload of codec `codec`; throws when it cannot be decoded. */
export function decodePayload(codec: number, payload: Uint8Array): DataPoint[] {
  switch (codec) {
    case CODEC_TYPED_COLUMNS:
      return decodeChunk(payload);
    case CODEC_DEFLATE_TYPED_COLUMNS:
      return decodeChunk(inflateRawSync(payload));
    default:
      throw new Error(`queue chunk payload has unknown codec ${codec}`);
  }
}
