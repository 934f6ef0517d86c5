import { mkdtempSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it, afterEach } from 'vitest';
import type { DataPoint } from '../src/data-point.js';
import { createMemoryQueue } from '../src/queue/memory-queue.js';
import { openSqliteQueue, type QueueLogger } from '../src/queue/sqlite-queue.js';
import { QueueStorageError, type DurableQueue, type SyncMode } from '../src/queue/types.js';
import { describeQueueBehaviour, items } from './queue.suite.js';

describeQueueBehaviour('memory', () => ({
  durable: false,
  open: (opts) => Promise.resolve(createMemoryQueue(opts)),
  cleanup: () => {},
}));

// The compressed variant also runs without the memory cache, so that every lease reads its chunk back.
for (const compression of [false, true]) {
  describeQueueBehaviour(`sqlite${compression ? ' (compressed chunks, no memory cache)' : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'bifrost-queue-'));
    return {
      durable: true,
      open: (opts) =>
        openSqliteQueue(join(dir, 'queue.db'), {
          ...opts,
          compression,
          memoryCacheBytes: compression ? 0 : undefined,
          logger: silentLogger(),
        }),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  });
}

function silentLogger(): QueueLogger & { lines: Array<{ obj: object; msg: string }> } {
  const lines: Array<{ obj: object; msg: string }> = [];
  return { lines, info: (obj, msg) => lines.push({ obj, msg }), error: (obj, msg) => lines.push({ obj, msg }) };
}

describe('sqlite queue file', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'bifrost-queue-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('moves a file that is not a database aside, logs it, and starts empty', async () => {
    const dir = tempDir();
    const file = join(dir, 'queue.db');
    writeFileSync(file, 'this is not a sqlite database, it was overwritten by something '.repeat(200));
    const logger = silentLogger();
    const q = await openSqliteQueue(file, { logger });
    try {
      const aside = readdirSync(dir).filter((f) => f.startsWith('queue.db.corrupt-'));
      expect(aside).toHaveLength(1);
      expect(logger.lines).toHaveLength(1);
      expect(logger.lines[0].msg).toMatch(/damaged; moved it aside/);
      expect(logger.lines[0].obj).toMatchObject({ file, movedTo: join(dir, aside[0]) });
      await q.enqueue(items('a', 3));
      expect(q.stats('a').points).toBe(3);
      expect(q.health().ok).toBe(true);
    } finally {
      await q.close();
    }
  });

  it('moves a database with damaged pages aside instead of crash-looping', async () => {
    const dir = tempDir();
    const file = join(dir, 'queue.db');
    let q = await openSqliteQueue(file, { logger: silentLogger() });
    for (let i = 0; i < 20; i++) await q.enqueue(items('a', 200));
    await q.close();
    const size = statSync(file).size;
    const fd = openSync(file, 'r+');
    // Scribble over every b-tree page header after the first page; the schema page stays readable.
    for (let off = 4096; off < size; off += 4096) writeSync(fd, Buffer.alloc(16, 0xa5), 0, 16, off);
    closeSync(fd);
    for (let attempt = 0; attempt < 2; attempt++) {
      const logger = silentLogger();
      q = await openSqliteQueue(file, { logger });
      expect(logger.lines.length).toBe(attempt === 0 ? 1 : 0);
      expect(q.stats('a').points).toBe(attempt); // fresh after the move, then kept normally
      await q.enqueue(items('a', 1));
      await q.close();
    }
    expect(readdirSync(dir).filter((f) => f.includes('.corrupt-'))).toHaveLength(1);
  });

  it('surfaces a full disk as QueueStorageError and red health, keeps what was queued, and recovers', async () => {
    const dir = tempDir();
    const q: DurableQueue = await openSqliteQueue(join(dir, 'queue.db'), {
      maxFileBytes: 256 * 1024,
      logger: silentLogger(),
    });
    try {
      let accepted = 0;
      let failure: unknown;
      for (let i = 0; i < 200 && !failure; i++) {
        try {
          accepted += (await q.enqueue(items('a', 50))).accepted;
        } catch (e) {
          failure = e;
        }
      }
      expect(failure).toBeInstanceOf(QueueStorageError);
      expect((failure as Error).message).toMatch(/full/);
      expect(q.health()).toMatchObject({ ok: false, reason: expect.stringMatching(/full/) as unknown });
      expect(q.stats('a').points).toBe(accepted);
      const lease = (await q.lease('a', accepted))!;
      expect(lease.points).toHaveLength(accepted);
      await q.settle(lease, { acked: 'all' });
      await q.enqueue(items('a', 5));
      expect(q.health()).toEqual({ ok: true });
    } finally {
      await q.close();
    }
  });

  it.each<SyncMode>(['always', 'batch', 'interval'])('works and persists with sync=%s', async (sync) => {
    const file = join(tempDir(), 'queue.db');
    let q = await openSqliteQueue(file, { sync, syncIntervalMs: 20, logger: silentLogger() });
    await q.enqueue(items('a', 100));
    await new Promise((r) => setTimeout(r, 50));
    await q.close();
    q = await openSqliteQueue(file, { sync, logger: silentLogger() });
    expect(q.stats('a').points).toBe(100);
    await q.close();
  });

  it('refuses a second process-level opener of the same file with a clear error', async () => {
    const file = join(tempDir(), 'queue.db');
    const q = await openSqliteQueue(file, { logger: silentLogger() });
    await q.enqueue(items('a', 1));
    try {
      await expect(openSqliteQueue(file, { logger: silentLogger() })).rejects.toThrow(/in use by another process/);
    } finally {
      await q.close();
    }
  });

  it('reports a path it cannot use as QueueStorageError naming the file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain-file'), 'x');
    const file = join(dir, 'plain-file', 'queue.db');
    const err = await openSqliteQueue(file, { logger: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueStorageError);
    expect((err as Error).message).toContain(file);
  });

  it('refuses a file of another layout version instead of misreading it', async () => {
    const file = join(tempDir(), 'queue.db');
    const raw = new DatabaseSync(file);
    raw.exec(
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID; INSERT INTO meta VALUES ('schema_version', '1')",
    );
    raw.close();
    const err = await openSqliteQueue(file, { logger: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueStorageError);
    expect((err as Error).message).toMatch(/layout version 1, this build reads versions 2, 3, 4/);
  });

  /**
   * The JSON column payload of layout versions 2 and 3, `{"k":[field names],"c":[[values of field 0], ...]}`,
   * for points that all have the same fields.
   */
  function jsonColumns(points: readonly DataPoint[]): string {
    const [first] = points;
    if (!first) throw new Error('jsonColumns needs at least one point');
    const k = Object.keys(first);
    return JSON.stringify({ k, c: k.map((key) => points.map((p) => (p as unknown as Record<string, unknown>)[key])) });
  }

  it('reads a layout version 2 file (JSON column payloads, acks as JSON index lists) and marks it version 4', async () => {
    const file = join(tempDir(), 'queue.db');
    const q = await openSqliteQueue(file, { logger: silentLogger() });
    const queued = items('c', 10);
    await q.enqueue(queued);
    const lease = (await q.lease('c', 4))!;
    await q.settle(lease, { acked: 'all' });
    await q.close();
    // Rewrite the file as version 2 wrote it: JSON column text, its TEXT column of removed indexes.
    const raw = new DatabaseSync(file);
    expect(raw.prepare('SELECT count(*) AS n FROM chunk_state').get()).toEqual({ n: 1 });
    raw.prepare('UPDATE chunks SET codec = 0, payload = ?').run(jsonColumns(queued.map((i) => i.point)));
    raw.exec(`DROP TABLE chunk_state; CREATE TABLE chunk_state (seq INTEGER PRIMARY KEY, removed TEXT NOT NULL, attempts TEXT);
      INSERT INTO chunk_state (seq, removed) SELECT seq, '[0,1,2,3]' FROM chunks;
      UPDATE meta SET value = '2' WHERE key = 'schema_version'; UPDATE meta SET value = '0' WHERE key = 'clean_close'`);
    raw.close();

    const reopened = await openSqliteQueue(file, { logger: silentLogger() });
    expect(reopened.stats('c').points).toBe(6); // recounted from the chunks, as after a crash
    const rest = (await reopened.lease('c', 2))!;
    expect(rest.points).toEqual(queued.slice(4, 6).map((i) => i.point));
    // The next ack is stored as a bitmap in the version 2 TEXT column, and read back as one.
    await reopened.settle(rest, { acked: 'all' });
    await reopened.close();
    const check = new DatabaseSync(file);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: '4' });
    expect(check.prepare('SELECT typeof(removed) AS t FROM chunk_state').get()).toEqual({ t: 'blob' });
    check.close();
    const again = await openSqliteQueue(file, { logger: silentLogger() });
    expect((await again.lease('c', 100))!.points).toEqual(queued.slice(6).map((i) => i.point));
    await again.close();
  });

  it('reads a layout version 3 file (JSON column payloads, raw and deflated) beside new typed-column chunks', async () => {
    const file = join(tempDir(), 'queue.db');
    const q = await openSqliteQueue(file, { logger: silentLogger() });
    const first = items('c', 5);
    const second = items('c', 5);
    await q.enqueue(first);
    await q.enqueue(second);
    await q.close();
    const raw = new DatabaseSync(file);
    const seqs = (raw.prepare('SELECT seq FROM chunks ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
    expect(seqs).toHaveLength(2);
    const [firstSeq, secondSeq] = seqs;
    if (firstSeq === undefined || secondSeq === undefined) throw new Error('expected two chunks');
    raw
      .prepare('UPDATE chunks SET codec = 0, payload = ? WHERE seq = ?')
      .run(jsonColumns(first.map((i) => i.point)), firstSeq);
    raw
      .prepare('UPDATE chunks SET codec = 1, payload = ? WHERE seq = ?')
      .run(deflateRawSync(jsonColumns(second.map((i) => i.point))), secondSeq);
    raw.exec("UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    raw.close();

    const reopened = await openSqliteQueue(file, { logger: silentLogger() });
    const third = items('c', 3);
    await reopened.enqueue(third);
    const lease = (await reopened.lease('c', 100))!;
    expect(lease.points).toEqual([...first, ...second, ...third].map((i) => i.point));
    await reopened.settle(lease, { acked: 'all' });
    expect(reopened.stats('c').points).toBe(0);
    await reopened.close();
  });

  it('rejects bad options naming the field', async () => {
    await expect(openSqliteQueue(join(tempDir(), 'q.db'), { sync: 'sometimes' as never })).rejects.toThrow(
      /sync must be always \| batch \| interval/,
    );
    await expect(openSqliteQueue(join(tempDir(), 'q.db'), { syncIntervalMs: 0 })).rejects.toThrow(/syncIntervalMs/);
  });
});
