import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  createTlsFixture,
  postgresInstallation,
  requirePeer,
  startPostgres,
  type PostgresPeer,
  type TlsFixture,
  noCancel,
} from '@bifrost/connector-testkit';
import {
  AuthError,
  ConfigError,
  PartialWriteError,
  TransientError,
  type DataPoint,
  type Logger,
  type PluginContext,
  type TlsMaterial,
} from '@bifrost/core';
import timescale, { timescaleConfigSchema } from '../src/index.js';

const postgres = requirePeer('postgres', postgresInstallation);

const logs: string[] = [];
const logger: Logger = {
  trace() {},
  debug() {},
  info: (_o, m) => {
    logs.push(String(m));
  },
  warn() {},
  error() {},
  child: () => logger,
};
const ctx = (tls?: TlsMaterial): PluginContext => ({ name: 'it', logger, tls, signal: new AbortController().signal });
let seq = 0;
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: `p-${++seq}`,
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 20 + seq,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + seq,
  ...over,
});

describe.skipIf(!postgres.available)('Timescale connector against a real PostgreSQL', () => {
  let peer: PostgresPeer;
  let tls: TlsFixture;
  const config = (extra: Record<string, unknown> = {}) =>
    timescaleConfigSchema.parse({ endpoint: peer.url, ssl_mode: 'disable', ...extra });
  const rows = async (sql: string) => {
    const c = new pg.Client({
      host: peer.host,
      port: peer.port,
      user: peer.superuser.username,
      password: peer.superuser.password,
      database: peer.database,
    });
    await c.connect();
    try {
      return (await c.query<Record<string, unknown>>(sql)).rows;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    tls = createTlsFixture();
    peer = await startPostgres({ tls: tls.serverTls() });
  });
  afterAll(async () => {
    await peer?.dispose();
    tls?.dispose();
  });

  it('creates the table (a hypertable with TimescaleDB, else plain, logged) and stores every value type; redelivery adds no row', async () => {
    const c = timescale.create(config({ schema: 'plant', table: 'typed' }), ctx());
    await c.connect();
    expect(logs).toContain(
      peer.timescale
        ? 'using a TimescaleDB hypertable'
        : 'timescaledb extension not installed: using a plain PostgreSQL table',
    );
    const batch = [
      point({ value: 1.25, unit: '°C', tags: { line: '3' } }),
      point({ tagName: 'state', value: 'RUN "x" \\ y\nz' }),
      point({ tagName: 'alarm', value: true, quality: 'ALARM' }),
      point({ tagName: 'pos', value: { x: 1.5, label: 'a' } }),
    ];
    await c.write(batch, noCancel());
    await c.write(batch, noCancel());
    const got = await rows('SELECT * FROM plant.typed ORDER BY time');
    expect(got).toHaveLength(4);
    expect(got[0]).toMatchObject({
      id: batch[0]?.id,
      device_id: 'PLC001',
      value_double: 1.25,
      unit: '°C',
      tags: { line: '3' },
      quality: 'GOOD',
    });
    expect((got[0]?.time as Date).getTime()).toBe(batch[0]?.timestamp);
    expect(got[1]).toMatchObject({ value_text: 'RUN "x" \\ y\nz', value_double: null });
    expect(got[2]).toMatchObject({ value_bool: true, quality: 'ALARM' });
    expect(got[3]).toMatchObject({ value_json: { x: 1.5, label: 'a' } });
    await c.close();
  });

  it('stores one jsonb value column in jsonb mode', async () => {
    const c = timescale.create(config({ table: 'json_values', value_mode: 'jsonb' }), ctx());
    await c.connect();
    await c.write([point({ value: 3 }), point({ value: 'x' }), point({ value: { a: [1, 2] } })], noCancel());
    expect((await rows('SELECT value FROM json_values ORDER BY time')).map((r) => r.value)).toEqual([
      3,
      'x',
      { a: [1, 2] },
    ]);
    await c.close();
  });

  it('writes a large batch in one statement', async () => {
    const c = timescale.create(config({ table: 'large' }), ctx());
    await c.connect();
    const batch = Array.from({ length: 10_000 }, () => point());
    const receipt = await c.write(batch, noCancel());
    expect(await rows('SELECT count(*)::int AS n FROM large')).toEqual([{ n: 10_000 }]);
    // The receipt counts the statement's parameter bytes: at least every id and device id, well under 1 KB a row.
    const floor = batch.reduce((n, p) => n + p.id.length + p.deviceId.length, 0);
    expect(receipt?.bytes).toBeGreaterThan(floor);
    expect(receipt?.bytes).toBeLessThan(batch.length * 1_000);
    await c.close();
  });

  it('dead-letters only the rows PostgreSQL refuses and commits the rest', async () => {
    const c = timescale.create(config({ table: 'poison' }), ctx());
    await c.connect();
    const good = Array.from({ length: 10 }, () => point());
    const bad = point({ value: 'nul\u0000byte' });
    const err = await c.write([...good.slice(0, 4), bad, ...good.slice(4)], noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).rejected).toEqual([
      { id: bad.id, reason: expect.stringMatching(/PostgreSQL 22021/) as unknown, kind: 'payload' },
    ]);
    expect((err as PartialWriteError).accepted.sort()).toEqual(good.map((p) => p.id).sort());
    expect(await rows('SELECT count(*)::int AS n FROM poison')).toEqual([{ n: 10 }]);
    await c.close();
  });

  it('classifies bad credentials, a missing database, a missing table and a dead server', async () => {
    const wrong = await timescale
      .create(config({ password: 'nope' }), ctx())
      .connect()
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AuthError);
    expect((wrong as AuthError).code).toBe('BIFROST_ERR_PG_28P01');
    await expect(timescale.create(config({ database: 'nope' }), ctx()).connect()).rejects.toBeInstanceOf(ConfigError);
    await expect(
      timescale.create(config({ table: 'absent', create_table: false }), ctx()).connect(),
    ).rejects.toBeInstanceOf(ConfigError);
    const dead = timescale.create(timescaleConfigSchema.parse({ endpoint: 'postgres://u:p@127.0.0.1:9/db' }), ctx());
    await expect(dead.connect()).rejects.toBeInstanceOf(TransientError);
  });

  it('connects with sslmode verify-full and the CA from ctx.tls; a wrong CA or host name is a ConfigError', async () => {
    const ok = timescale.create(config({ ssl_mode: undefined, table: 'tls' }), ctx(tls.clientTls('tls')));
    await ok.connect();
    await ok.write([point()], noCancel());
    expect(
      await rows(
        `SELECT ssl FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = '${peer.user.username}'`,
      ),
    ).toContainEqual({ ssl: true });
    await ok.close();
    const wrongCa = await timescale
      .create(config({ ssl_mode: 'verify-full' }), ctx(tls.clientTls('untrusted-ca')))
      .connect()
      .catch((e: unknown) => e);
    expect(wrongCa).toBeInstanceOf(ConfigError);
    const wrongHost = await timescale
      .create(config({ ssl_mode: 'verify-full' }), ctx({ ...tls.clientTls('tls'), servername: 'db.example.com' }))
      .connect()
      .catch((e: unknown) => e);
    expect(wrongHost).toBeInstanceOf(ConfigError);
    expect((wrongHost as Error).message).toMatch(/db\.example\.com/);
  });

  it('recreates a table dropped while running, at the next connect', async () => {
    const c = timescale.create(config({ table: 'dropped' }), ctx());
    await c.connect();
    await c.write([point()], noCancel());
    await rows('DROP TABLE dropped');
    const again = point();
    await expect(c.write([again], noCancel())).rejects.toBeInstanceOf(ConfigError);
    await c.connect();
    await c.write([again], noCancel());
    expect(await rows('SELECT id FROM dropped')).toEqual([{ id: again.id }]);
    await c.close();
  });

  it('survives a server restart: the write during the outage fails transient, the next one lands', async () => {
    const c = timescale.create(config({ table: 'restart' }), ctx());
    await c.connect();
    await c.write([point()], noCancel());
    await peer.restart();
    const after = [point(), point()];
    await c.write(after, noCancel()).catch(async (e: unknown) => {
      expect(e).toBeInstanceOf(TransientError);
      await c.connect();
      await c.write(after, noCancel());
    });
    expect(await rows('SELECT count(*)::int AS n FROM restart')).toEqual([{ n: 3 }]);
    await c.close();
  });
});
