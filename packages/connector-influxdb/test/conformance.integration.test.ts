import { describe } from 'vitest';
import {
  createTlsFixture,
  describeConnector,
  influxd2Binary,
  influxdBinary,
  influxdV2Binary,
  requirePeer,
  startInflux,
  startInfluxV2,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type Collector,
  type ConnectionVariant,
  type ConnectorSetup,
  type ConnectorUnderTest,
  type InfluxPeer,
  type InfluxRow,
  type InfluxV2Peer,
  type ReceivedPoint,
  type ServerTlsPem,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import influxdb from '../src/index.js';

const influx = requirePeer('influxdb', influxdBinary);
const influx2 = requirePeer(
  'influxd 1.8 (InfluxDB 2.x write API)',
  () => influxd2Binary() ?? { missing: 'influxd 1.8 is not built (bash scripts/peers/influxdb2.sh builds it alone)' },
);
const influxV2 = requirePeer(
  'influxdb 2.x',
  () =>
    influxdV2Binary() ?? { missing: 'InfluxDB 2.7 is not built (bash scripts/peers/influxdb-v2.sh builds it alone)' },
);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

/** What the suite needs of an influxd, 1.x or 2.x. */
type Server = Pick<InfluxPeer, 'url' | 'host' | 'restart' | 'stop' | 'start' | 'kill' | 'dispose'> & {
  ports: { http: number };
  query(q: string): Promise<InfluxRow[]>;
};

/** A plain and an HTTPS-only influxd (one server cannot serve both), the run's TLS material. */
interface Peers<S extends Server = Server> {
  plain: S;
  secure: S;
  tls: TlsFixture;
}

const MEASUREMENT = 'conformance';
const NOT_VALUE = new Set(['time', 'device_id', 'tag_name', 'quality', 'point_id']);

/** The point's value from its fields: `value`/`value_str`/`value_bool`, or the flattened object's fields. */
function valueOf(row: Record<string, unknown>): unknown {
  const fields = Object.entries(row).filter(([k, v]) => !NOT_VALUE.has(k) && v !== null);
  const [only] = fields;
  if (fields.length === 1 && only && ['value', 'value_str', 'value_bool'].includes(only[0])) return only[1];
  return Object.fromEntries(fields);
}

/** Polls both servers for the points written since the collector opened (minus the suite's timestamp spread). */
function collector(peers: Peers): Collector {
  const q = `SELECT *::field, "device_id"::tag, "tag_name"::tag, "quality"::tag FROM "${MEASUREMENT}" WHERE time >= ${Date.now() - 15 * 60_000}000000`;
  return {
    async waitFor(ids, timeoutMs) {
      const wanted = new Set(ids);
      const found = new Map<string, ReceivedPoint>();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // A server is down during the outage scenarios: read what can be read.
        const rows = (await Promise.all([peers.plain, peers.secure].map((p) => p.query(q).catch(() => [])))).flat();
        for (const row of rows) {
          const id = row.point_id as string;
          if (!wanted.has(id) || found.has(id)) continue;
          found.set(id, {
            id,
            value: valueOf(row),
            deviceId: row.device_id as string,
            tagName: row.tag_name as string,
            quality: row.quality as string,
            timestamp: row.time as number,
          });
        }
        if (found.size === wanted.size || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    async close() {},
  };
}

/** One server kind and how the connector authenticates against it. */
interface Flavor<S extends Server> {
  name: string;
  start(tls?: ServerTlsPem): Promise<S>;
  /** The connector's API settings and credentials for `server`; `wrong` gives a refused password or token. */
  credentials(server: S, wrong: boolean): Record<string, unknown>;
}

/** 1.x API, user and password, on Debian's influxd. */
const v1: Flavor<InfluxPeer> = {
  name: 'influxdb 1.x API on influxd',
  start: (tls) => startInflux(tls ? { tls } : {}),
  credentials: (s, wrong) => ({
    database: s.database,
    username: s.admin.username,
    password: wrong ? 'wrong' : s.admin.password,
  }),
};

/** 2.x write API of influxd 1.8: bucket `db/rp`, token `user:password`, organization ignored. */
const v2OnV18 = (binary: string): Flavor<InfluxPeer> => ({
  name: 'influxdb 2.x API on influxd 1.8',
  start: (tls) => startInflux({ binary, ...(tls && { tls }) }),
  credentials: (s, wrong) => ({
    version: '2.x',
    organization: 'any',
    bucket: `${s.database}/autogen`,
    token: `${s.admin.username}:${wrong ? 'wrong' : s.admin.password}`,
  }),
});

/** The real InfluxDB 2.x: organization, bucket and API token. */
const v2: Flavor<InfluxV2Peer> = {
  name: 'influxdb 2.x API on InfluxDB 2.7',
  start: (tls) => startInfluxV2(tls ? { tls } : {}),
  credentials: (s, wrong) => ({
    version: '2.x',
    organization: s.org,
    bucket: s.bucket,
    token: wrong ? `${s.token}-wrong` : s.token,
  }),
};

function configFor<S extends Server>(flavor: Flavor<S>) {
  return (peers: Peers<S>, variant: ConnectionVariant): ConnectorSetup | undefined => {
    const { plain, secure, tls } = peers;
    const base = { ...flavor.credentials(plain, false), measurement: MEASUREMENT };
    const overTls = { ...flavor.credentials(secure, false), measurement: MEASUREMENT, endpoint: secure.url };
    switch (variant.kind) {
      case 'plain':
        return { config: { ...base, endpoint: plain.url } };
      case 'bad-credentials':
        return { config: { ...base, ...flavor.credentials(plain, true), endpoint: plain.url } };
      case 'proxied':
        // plainWire: the poison-after-send scenario reads the line protocol on the wire; gzip hides it.
        return {
          config: {
            ...base,
            endpoint: `http://${variant.host}:${variant.port}`,
            ...(variant.plainWire && { gzip: false }),
          },
        };
      case 'tls':
        return { config: overTls, tls: tls.clientTls('tls') };
      case 'untrusted-ca':
        return { config: overTls, tls: tls.clientTls('untrusted-ca') };
      case 'mtls':
      case 'expired-cert':
        return undefined; // InfluxDB has no client-certificate authentication
    }
  };
}

/** The suite for one flavor: a plain and an HTTPS server of its kind. */
const targetFor = <S extends Server>(flavor: Flavor<S>) =>
  ({
    name: flavor.name,
    plugin: influxdb,
    async peer() {
      const tls = createTlsFixture();
      const plain = await flavor.start();
      const secure = await flavor.start(tls.serverTls());
      return { plain, secure, tls };
    },
    async dispose(p) {
      await p.plain.dispose();
      await p.secure.dispose();
      p.tls.dispose();
    },
    config: configFor(flavor),
    readBack: (peers) => Promise.resolve(collector(peers)),
    address: (p) => ({ host: p.plain.host, port: p.plain.ports.http }),
    ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
    restart: (p) => p.plain.restart(),
    stop: (p) => p.plain.stop(),
    start: (p) => p.plain.start(),
    // SIGKILL: what influxd acknowledged (204 after its WAL write) must survive, the rest is
    // redelivered and overwrites itself.
    kill: async (p) => {
      await p.plain.kill();
      await p.plain.start();
    },
    // A series key longer than InfluxDB's 65535-byte limit: the server refuses that line, always.
    poison: (): DataPoint => ({
      id: newPointId(),
      deviceId: 'poison',
      tagName: 'big',
      value: 1,
      quality: 'GOOD',
      timestamp: Date.now(),
      tags: { big: 'x'.repeat(70_000) },
    }),
  }) satisfies ConnectorUnderTest<Peers<S>>;

describe.skipIf(!influx.available)('influxdb', () => {
  describeConnector(targetFor(v1));
});

describe.skipIf(!influx2.available)('influxdb 2.x API', () => {
  describeConnector(targetFor(v2OnV18(influx2.found!)));
});

describe.skipIf(!influxV2.available)('influxdb 2.x', () => {
  describeConnector(targetFor(v2));
});
