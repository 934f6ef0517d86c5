import { describe } from 'vitest';
import {
  createTlsFixture, describeConnector, influxd2Binary, influxdBinary, requirePeer, startInflux, toxiproxyBinary, toxiproxyFaultProxy,
  type Collector, type ConnectionVariant, type ConnectorSetup, type ConnectorUnderTest, type InfluxPeer, type ReceivedPoint, type TlsFixture,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import influxdb from '../src/index.js';

const influx = requirePeer('influxdb', influxdBinary);
const influx2 = requirePeer('influxd 1.8 (InfluxDB 2.x write API)', () =>
  influxd2Binary() ?? { missing: 'influxd 1.8 is not built (bash scripts/peers/influxdb2.sh builds it alone)' });
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

/** A plain and an HTTPS-only influxd (one server cannot serve both), the run's TLS material. */
interface Peers { plain: InfluxPeer; secure: InfluxPeer; tls: TlsFixture }

const MEASUREMENT = 'conformance';
const NOT_VALUE = new Set(['time', 'device_id', 'tag_name', 'quality', 'point_id']);

/** The point's value from its fields: `value`/`value_str`/`value_bool`, or the flattened object's fields. */
function valueOf(row: Record<string, unknown>): unknown {
  const fields = Object.entries(row).filter(([k, v]) => !NOT_VALUE.has(k) && v !== null);
  if (fields.length === 1 && ['value', 'value_str', 'value_bool'].includes(fields[0]![0])) return fields[0]![1];
  return Object.fromEntries(fields);
}

/** Polls both servers for the points written since the collector opened (minus the suite's timestamp spread). */
async function collector(peers: Peers): Promise<Collector> {
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
            id, value: valueOf(row), deviceId: row.device_id as string, tagName: row.tag_name as string,
            quality: row.quality as string, timestamp: row.time as number,
          });
        }
        if (found.size === wanted.size || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    async close() {},
  };
}

type Api = '1.x' | '2.x';

/** The connector's credentials for `peer`: user/password (1.x) or the 1.8 compatibility token `user:password` (2.x). */
function credentials(api: Api, peer: InfluxPeer, password = peer.admin.password): Record<string, unknown> {
  const { username } = peer.admin;
  if (api === '1.x') return { database: peer.database, username, password };
  return { version: '2.x', organization: 'any', bucket: `${peer.database}/autogen`, token: `${username}:${password}` };
}

function configFor(api: Api) {
  return (peers: Peers, variant: ConnectionVariant): ConnectorSetup | undefined => {
    const { plain, secure, tls } = peers;
    const base = { ...credentials(api, plain), measurement: MEASUREMENT };
    const overTls = { ...credentials(api, secure), measurement: MEASUREMENT, url: secure.url };
    switch (variant.kind) {
      case 'plain': return { config: { ...base, url: plain.url } };
      case 'bad-credentials': return { config: { ...base, ...credentials(api, plain, 'wrong'), url: plain.url } };
      case 'proxied': return { config: { ...base, url: `http://${variant.host}:${variant.port}` } };
      case 'tls': return { config: overTls, tls: tls.clientTls('tls') };
      case 'untrusted-ca': return { config: overTls, tls: tls.clientTls('untrusted-ca') };
      default: return undefined; // InfluxDB 1.x has no client-certificate authentication (mtls, expired-cert)
    }
  };
}

/** The suite for one API: 1.x against Debian's influxd, 2.x against influxd 1.8's `/api/v2/write`. */
const targetFor = (api: Api, binary?: string) => ({
  name: `influxdb ${api} API on influxd${binary ? ' 1.8' : ''}`,
  plugin: influxdb,
  async peer() {
    const tls = createTlsFixture();
    const plain = await startInflux(binary ? { binary } : {});
    const secure = await startInflux({ tls: tls.serverTls(), ...(binary ? { binary } : {}) });
    return { plain, secure, tls };
  },
  async dispose(p) {
    await p.plain.dispose();
    await p.secure.dispose();
    p.tls.dispose();
  },
  config: configFor(api),
  readBack: collector,
  address: (p) => ({ host: p.plain.host, port: p.plain.ports.http }),
  ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
  restart: (p) => p.plain.restart(),
  stop: (p) => p.plain.stop(),
  start: (p) => p.plain.start(),
  // SIGKILL: what influxd acknowledged (204 after its WAL write) must survive, the rest is
  // redelivered and overwrites itself.
  kill: async (p) => { await p.plain.kill(); await p.plain.start(); },
  // A series key longer than InfluxDB's 65535-byte limit: the server refuses that line, always.
  poison: (): DataPoint => ({ id: newPointId(), deviceId: 'poison', tagName: 'big', value: 1, quality: 'GOOD', timestamp: Date.now(), tags: { big: 'x'.repeat(70_000) } }),
}) satisfies ConnectorUnderTest<Peers>;

describe.skipIf(!influx.available)('influxdb', () => {
  describeConnector<Peers>(targetFor('1.x'));
});

describe.skipIf(!influx2.available)('influxdb 2.x API', () => {
  describeConnector<Peers>(targetFor('2.x', influx2.found));
});
