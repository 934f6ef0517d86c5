import { mkdtempSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it, afterEach } from 'vitest';
import { createMemoryQueue } from '../src/queue/memory-queue.js';
import { openSqliteQueue, type QueueLogger } from '../src/queue/sqlite-queue.js';
import { QueueStorageError, type DurableQueue, type SyncMode } from '../src/queue/types.js';
import { nth } from './nth.js';
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

  it('salvages a file that is not a database: keeps it aside, logs, starts empty and degraded until acknowledged', async () => {
    const dir = tempDir();
    const file = join(dir, 'queue.db');
    writeFileSync(file, 'this is not a sqlite database, it was overwritten by something '.repeat(200));
    const logger = silentLogger();
    const q = await openSqliteQueue(file, { logger });
    try {
      const aside = readdirSync(dir).filter((f) => f.startsWith('queue.db.corrupt-'));
      expect(aside).toHaveLength(1);
      expect(logger.lines).toHaveLength(1);
      expect(logger.lines[0]?.msg).toMatch(/queue file was damaged .*salvaged into a new file/);
      expect(logger.lines[0]?.obj).toMatchObject({ file, movedTo: join(dir, nth(aside, 0)), recoveredPoints: 0 });
      await q.enqueue(items('a', 3));
      expect(q.stats('a').points).toBe(3);
      const h = q.health();
      expect(h.ok).toBe(true);
      expect(h.degraded).toMatch(/1 unacknowledged queue integrity incident .*salvaged/);
      expect(q.integrity()).toMatchObject({ recovered: 0, incidents: [{ kind: 'salvage', recovered: 0, lost: null }] });
      expect(await q.acknowledgeIntegrity()).toBe(1);
      expect(q.health()).toEqual({ ok: true });
    } finally {
      await q.close();
    }
  });

  it('salvages a database with damaged pages instead of crash-looping, and says so once', async () => {
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
      // Every page header is gone: nothing is readable, so the new file starts empty, then keeps normally.
      expect(q.stats('a').points).toBe(attempt);
      expect(q.integrity().incidents.map((i) => i.kind)).toEqual(['salvage']);
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

  it('refuses a file of another layout version, naming both versions, and leaves it as it was', async () => {
    const file = join(tempDir(), 'queue.db');
    const raw = new DatabaseSync(file);
    raw.exec(
      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID; INSERT INTO meta VALUES ('schema_version', '1')",
    );
    raw.close();
    const err = await openSqliteQueue(file, { logger: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueStorageError);
    expect((err as Error).message).toMatch(/layout version 1, this build reads only layout versions 4 and 5/);
    expect((err as Error).message).toContain(file);
    const check = new DatabaseSync(file);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([{ name: 'meta' }]);
    check.close();
  });

  it('refuses a queue file of layout version 3 (JSON-column chunks of development builds) without upgrading it', async () => {
    const file = join(tempDir(), 'queue.db');
    const q = await openSqliteQueue(file, { logger: silentLogger() });
    await q.enqueue(items('c', 5));
    await q.close();
    const raw = new DatabaseSync(file);
    raw.exec("UPDATE meta SET value = '3' WHERE key = 'schema_version'");
    raw.close();
    const logger = silentLogger();
    const err = await openSqliteQueue(file, { logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueStorageError);
    expect((err as Error).message).toMatch(/layout version 3, this build reads only layout versions 4 and 5/);
    expect(logger.lines).toEqual([]); // not taken for a damaged file: nothing moved aside
    const check = new DatabaseSync(file);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: '3' });
    expect(check.prepare('SELECT count(*) AS n FROM chunks').get()).toEqual({ n: 1 });
    check.close();
  });

  it('refuses a file whose meta table records no layout version', async () => {
    const file = join(tempDir(), 'queue.db');
    const raw = new DatabaseSync(file);
    raw.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    raw.close();
    const err = await openSqliteQueue(file, { logger: silentLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueStorageError);
    expect((err as Error).message).toMatch(/layout version none, this build reads only layout versions 4 and 5/);
  });

  it('quarantines a chunk of an unknown payload codec when it is read, and moves on', async () => {
    const file = join(tempDir(), 'queue.db');
    const q = await openSqliteQueue(file, { logger: silentLogger(), memoryCacheBytes: 0 });
    await q.enqueue(items('c', 3));
    await q.close();
    const raw = new DatabaseSync(file);
    raw.exec('UPDATE chunks SET codec = 0'); // JSON columns, written by development builds only
    raw.close();
    const reopened = await openSqliteQueue(file, { logger: silentLogger() });
    try {
      expect(await reopened.lease('c', 10)).toBeNull();
      expect(reopened.stats('c')).toMatchObject({ points: 0, quarantined: 3 });
      expect(reopened.health()).toMatchObject({
        ok: true,
        degraded: expect.stringMatching(/checksum mismatch/) as unknown,
      });
      expect(reopened.integrity()).toMatchObject({ quarantined: 3, incidents: [{ kind: 'quarantine', lost: 3 }] });
    } finally {
      await reopened.close();
    }
    const check = new DatabaseSync(file);
    expect(check.prepare('SELECT count(*) AS n FROM chunks').get()).toEqual({ n: 0 });
    expect(check.prepare('SELECT seq, points, codec, length(payload) > 0 AS raw FROM quarantine').all()).toEqual([
      { seq: expect.any(Number) as unknown, points: 3, codec: 0, raw: 1 },
    ]);
    check.close();
  });

  it('upgrades a layout-4 file in place: its chunks are delivered, an undecodable one is quarantined', async () => {
    const file = join(tempDir(), 'queue.db');
    const q = await openSqliteQueue(file, { logger: silentLogger() });
    await q.enqueue(items('a', 5));
    await q.enqueue(items('a', 7));
    await q.close();
    const raw = new DatabaseSync(file);
    raw.exec(`ALTER TABLE chunks DROP COLUMN crc; ALTER TABLE chunk_state DROP COLUMN crc;
      DROP TABLE quarantine; DROP TABLE incidents; UPDATE meta SET value = '4' WHERE key = 'schema_version';
      UPDATE chunks SET payload = x'00ff00ff' WHERE seq = (SELECT max(seq) FROM chunks)`);
    raw.close();
    const upgraded = await openSqliteQueue(file, { logger: silentLogger() });
    try {
      const lease = await upgraded.lease('a', 100);
      expect(lease?.points).toHaveLength(5);
      expect(upgraded.stats('a')).toMatchObject({ quarantined: 7 });
      expect(upgraded.integrity().incidents[0]?.message).toMatch(/cannot decode/);
      await upgraded.settle(lease!, { acked: 'all' });
    } finally {
      await upgraded.close();
    }
    const check = new DatabaseSync(file);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: '5' });
    check.close();
  });

  it('rejects bad options naming the field', async () => {
    await expect(openSqliteQueue(join(tempDir(), 'q.db'), { sync: 'sometimes' as never })).rejects.toThrow(
      /sync must be always \| batch \| interval/,
    );
    await expect(openSqliteQueue(join(tempDir(), 'q.db'), { syncIntervalMs: 0 })).rejects.toThrow(/syncIntervalMs/);
  });
});
