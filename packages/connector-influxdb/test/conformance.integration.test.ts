import { describeConnector, type Collector, type ConnectionVariant, type ConnectorSetup, type ReceivedPoint } from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import influxdb from '../src/index.js';
import { influxdBinary, startInfluxd, type InfluxPeer } from './support/influxd.js';

const binary = influxdBinary();
if (!binary) {
  const hint = 'influxd not found: install the peers with `bash scripts/install-peers.sh` (or set BIFROST_INFLUXD)';
  if (process.env.CI === 'true') throw new Error(hint);
  console.warn(`[connector-influxdb] skipping conformance: ${hint}`);
}

interface Peers { plain: InfluxPeer; tls: InfluxPeer }

const MEASUREMENT = 'conformance';
const NOT_VALUE = new Set(['time', 'device_id', 'tag_name', 'quality', 'point_id']);

/** The point's value from its fields: `value`/`value_str`/`value_bool`, or the flattened object's fields. */
function valueOf(row: Record<string, unknown>): unknown {
  const fields = Object.entries(row).filter(([k, v]) => !NOT_VALUE.has(k) && v !== null);
  if (fields.length === 1 && ['value', 'value_str', 'value_bool'].includes(fields[0]![0])) return fields[0]![1];
  return Object.fromEntries(fields);
}

/**
 * Polls InfluxDB (the plain and the TLS instance) for the points written since the collector
 * opened, minus the suite's timestamp spread.
 */
async function collector(peers: Peers): Promise<Collector> {
  const sinceNs = `${Date.now() - 15 * 60_000}000000`;
  return {
    async waitFor(ids, timeoutMs) {
      const wanted = new Set(ids);
      const found = new Map<string, ReceivedPoint>();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const q = `SELECT *::field, "device_id"::tag, "tag_name"::tag, "quality"::tag FROM "${MEASUREMENT}" WHERE time >= ${sinceNs}`;
        // The plain instance is down during outage scenarios: read what can be read.
        const rows = (await Promise.all([peers.plain, peers.tls].map((p) => p.query(q).catch(() => [])))).flat();
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

function config(peers: Peers, variant: ConnectionVariant): ConnectorSetup | undefined {
  const p = peers.plain;
  const base = { database: p.database, username: p.username, password: p.password, measurement: MEASUREMENT };
  switch (variant.kind) {
    case 'plain': return { config: { ...base, url: p.url } };
    case 'bad-credentials': return { config: { ...base, url: p.url, password: 'wrong' } };
    case 'proxied': return { config: { ...base, url: `http://${variant.host}:${variant.port}` } };
    case 'tls': return { config: { ...base, url: peers.tls.url }, tls: { ca: peers.tls.ca, rejectUnauthorized: true } };
    case 'untrusted-ca': return { config: { ...base, url: peers.tls.url }, tls: { ca: peers.tls.otherCa, rejectUnauthorized: true } };
    default: return undefined; // InfluxDB 1.x has no client-certificate authentication
  }
}

describeConnector<Peers>({
  name: `influxdb on influxd ${binary ?? '(missing)'}`,
  plugin: influxdb,
  peer: async () => {
    if (!binary) throw new Error('influxd not found');
    return { plain: await startInfluxd(binary), tls: await startInfluxd(binary, { tls: true }) };
  },
  dispose: async (p) => { await p.plain.dispose(); await p.tls.dispose(); },
  config,
  readBack: (p) => collector(p),
  address: (p) => ({ host: p.plain.host, port: p.plain.port }),
  restart: (p) => p.plain.restart(),
  stop: (p) => p.plain.stop(),
  start: (p) => p.plain.start(),
  // A series key longer than InfluxDB's 65535-byte limit: the server refuses that line, always.
  poison: (): DataPoint => ({ id: newPointId(), deviceId: 'poison', tagName: 'big', value: 1, quality: 'GOOD', timestamp: Date.now(), tags: { big: 'x'.repeat(70_000) } }),
}, binary ? undefined : []);
