import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  influxd2Binary,
  influxdBinary,
  influxdV2Binary,
  requirePeer,
  silentLogger,
  startInflux,
  startInfluxV2,
  type InfluxPeer,
  type InfluxRow,
  noCancel,
} from '@bifrost/connector-testkit';
import {
  AuthError,
  ConfigError,
  PartialWriteError,
  TransientError,
  type DataPoint,
  type PluginContext,
} from '@bifrost/core';
import influxdb, { influxConfigSchema } from '../src/index.js';

const influx = requirePeer('influxdb', influxdBinary);
// The 2.x API needs InfluxDB 1.8+ (Debian has 1.6): scripts/peers/influxdb2.sh builds it. Missing
// outside CI skips those tests; with CI=true requirePeer fails the file.
const influx2 = requirePeer(
  'influxd 1.8 (InfluxDB 2.x write API)',
  () => influxd2Binary() ?? { missing: 'influxd 1.8 is not built (bash scripts/peers/influxdb2.sh builds it alone)' },
);
const influxV2 = requirePeer(
  'influxdb 2.x',
  () =>
    influxdV2Binary() ?? { missing: 'InfluxDB 2.7 is not built (bash scripts/peers/influxdb-v2.sh builds it alone)' },
);

const ctx = (): PluginContext => ({ name: 'it', logger: silentLogger, signal: new AbortController().signal });
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

describe.skipIf(!influx.available)('InfluxDB connector against a real influxd', () => {
  let peer: InfluxPeer;
  const connector = (extra: Record<string, unknown> = {}) =>
    influxdb.create(
      influxConfigSchema.parse({
        endpoint: peer.url,
        database: peer.database,
        username: peer.admin.username,
        password: peer.admin.password,
        ...extra,
      }),
      ctx(),
    );

  beforeAll(async () => {
    peer = await startInflux();
  });
  afterAll(async () => {
    await peer?.dispose();
  });

  it('writes every value type with awkward names, reads them back exactly, and redelivery does not duplicate', async () => {
    const c = connector({ measurement: 'types' });
    await c.connect();
    const batch = [
      point({ value: 1.25, unit: '°C', tags: { 'plant area': 'north,1', 'k=v': 'x=y' } }),
      point({ tagName: 'state', value: 'RUN "fast" \\ now\nnext' }),
      point({ tagName: 'alarm', value: true, quality: 'ALARM' }),
      point({ tagName: 'pos', value: { x: 1.5, meta: { label: 'a b' } } }),
      point({ deviceId: 'PLC 2,b=c', tagName: 'count', value: 7 }),
    ];
    await c.write(batch, noCancel());
    await c.write(batch, noCancel());
    const rows = await peer.query('SELECT * FROM "types"');
    expect(rows).toHaveLength(5);
    const byId = new Map(rows.map((r) => [r.point_id, r]));
    expect(byId.get(batch[0]?.id)).toMatchObject({
      value: 1.25,
      unit: '°C',
      'plant area': 'north,1',
      'k=v': 'x=y',
      device_id: 'PLC001',
      time: batch[0]?.timestamp,
    });
    expect(byId.get(batch[1]?.id)).toMatchObject({ value_str: 'RUN "fast" \\ now\nnext' });
    expect(byId.get(batch[2]?.id)).toMatchObject({ value_bool: true, quality: 'ALARM' });
    expect(byId.get(batch[3]?.id)).toMatchObject({ x: 1.5, meta_label: 'a b' });
    expect(byId.get(batch[4]?.id)).toMatchObject({ device_id: 'PLC 2,b=c', value: 7 });
    await c.close();
  });

  it('dead-letters only the points InfluxDB refuses and delivers the rest of the batch', async () => {
    const c = connector({ measurement: 'conflict', field_naming: 'single' });
    await c.connect();
    await c.write([point({ value: 1 })], noCancel());
    const good = Array.from({ length: 20 }, () => point());
    const [bad1, bad2] = [point({ value: 'not a number' }), point({ value: 'nor this' })];
    const bad = [bad1, bad2];
    const batch = [...good.slice(0, 7), bad1, ...good.slice(7, 15), bad2, ...good.slice(15)];
    const err = await c.write(batch, noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    const partial = err as PartialWriteError;
    expect(partial.rejected.map((r) => r.id).sort()).toEqual(bad.map((p) => p.id).sort());
    expect(partial.rejected[0]?.reason).toMatch(/field type conflict/);
    expect(partial.accepted.sort()).toEqual(good.map((p) => p.id).sort());
    expect(await peer.query('SELECT count(value) FROM "conflict"')).toMatchObject([{ count: 21 }]);
    await c.close();
  });

  it('classifies bad credentials, a missing database and a dead server', async () => {
    await expect(connector({ password: 'wrong' }).connect()).rejects.toBeInstanceOf(AuthError);
    const missing = await connector({ database: 'nope' })
      .connect()
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as Error).message).toMatch(/database not found/);
    const dead = influxdb.create(influxConfigSchema.parse({ endpoint: 'http://127.0.0.1:9', database: 'x' }), ctx());
    await expect(dead.connect()).rejects.toBeInstanceOf(TransientError);
  });
});

/** A server of the 2.x write API: how to start it, the connector's credentials for it, and how to read it back. */
interface V2Server {
  name: string;
  available: boolean;
  start(): Promise<{ url: string; dispose(): Promise<void>; query(q: string): Promise<InfluxRow[]> }>;
  credentials(peer: unknown, wrongToken?: boolean): { organization: string; bucket: string; token: string };
}

const v2Servers: V2Server[] = [
  {
    name: 'a real influxd 1.8 (bucket db/rp, token user:password)',
    available: influx2.available,
    start: () => startInflux({ binary: influx2.found! }),
    credentials(peer, wrong) {
      const p = peer as InfluxPeer;
      return {
        organization: 'any',
        bucket: `${p.database}/autogen`,
        token: `${p.admin.username}:${wrong ? 'wrong' : p.admin.password}`,
      };
    },
  },
  {
    name: 'a real InfluxDB 2.7 (organization, bucket, API token)',
    available: influxV2.available,
    start: () => startInfluxV2(),
    credentials(peer, wrong) {
      const p = peer as Awaited<ReturnType<typeof startInfluxV2>>;
      return { organization: p.org, bucket: p.bucket, token: wrong ? `${p.token}-wrong` : p.token };
    },
  },
];

for (const server of v2Servers) {
  describe.skipIf(!server.available)(`InfluxDB connector, 2.x API, against ${server.name}`, () => {
    let peer: Awaited<ReturnType<V2Server['start']>>;
    const connector = (extra: Record<string, unknown>, wrongToken = false) =>
      influxdb.create(
        influxConfigSchema.parse({
          endpoint: peer.url,
          version: '2.x',
          ...server.credentials(peer, wrongToken),
          ...extra,
        }),
        ctx(),
      );
    beforeAll(async () => {
      peer = await server.start();
    });
    afterAll(async () => {
      await peer?.dispose();
    });

    it('writes through /api/v2/write and reads every point back by id', async () => {
      const c = connector({ measurement: 'v2', precision: 'ms' });
      await c.connect();
      const batch = [point(), point({ value: 'x' }), point({ tagName: 'alarm', value: true, quality: 'ALARM' })];
      const receipt = await c.write(batch, noCancel());
      await c.write(batch, noCancel());
      // The receipt counts the line-protocol bytes sent: at least the measurement, ids and device ids of every line.
      expect(receipt?.bytes).toBeGreaterThan(
        batch.reduce((n, p) => n + 'v2'.length + p.id.length + p.deviceId.length, 0),
      );
      expect(receipt?.bytes).toBeLessThan(batch.length * 500);
      const rows = await peer.query('SELECT * FROM "v2"');
      expect(rows.map((r) => r.point_id).sort()).toEqual(batch.map((p) => p.id).sort());
      expect(rows.find((r) => r.point_id === batch[1]?.id)).toMatchObject({
        value_str: 'x',
        time: batch[1]?.timestamp,
      });
      await c.close();
    });

    it('gives AuthError for a wrong token', async () => {
      await expect(connector({}, true).connect()).rejects.toBeInstanceOf(AuthError);
    });

    it('dead-letters only the points the 2.x endpoint refuses', async () => {
      const c = connector({ measurement: 'conflict2', field_naming: 'single' });
      await c.connect();
      await c.write([point({ value: 1 })], noCancel());
      const good = [point(), point()] as const;
      const bad = point({ value: 'not a number' });
      const err = await c.write([good[0], bad, good[1]], noCancel()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PartialWriteError);
      expect((err as PartialWriteError).rejected.map((r) => r.id)).toEqual([bad.id]);
      expect((err as PartialWriteError).accepted.sort()).toEqual(good.map((p) => p.id).sort());
      await c.close();
    });
  });
}
