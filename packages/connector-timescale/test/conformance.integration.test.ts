import { describeConnector, type Collector, type ConnectionVariant, type ConnectorSetup, type ReceivedPoint } from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import pg from 'pg';
import timescale from '../src/index.js';
import { postgresBinDir, startPostgres, type PostgresPeer } from './support/postgres.js';

const bin = postgresBinDir();
if (!bin) {
  const hint = 'PostgreSQL not found: install the peers with `bash scripts/install-peers.sh` (or set BIFROST_PG_BIN)';
  if (process.env.CI === 'true') throw new Error(hint);
  console.warn(`[connector-timescale] skipping conformance: ${hint}`);
}

const TABLE = 'conformance';

interface Row {
  id: string; time: Date; device_id: string; tag_name: string; quality: string;
  value_double: number | null; value_text: string | null; value_bool: boolean | null; value_json: unknown;
}

/** Polls the table for the wanted ids (through a pool: it outlives the peer's restarts). */
async function collector(peer: PostgresPeer): Promise<Collector> {
  const client = new pg.Pool({ ...peer.adminConfig, max: 1 });
  client.on('error', () => undefined);
  return {
    async waitFor(ids, timeoutMs) {
      const found = new Map<string, ReceivedPoint>();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const missing = ids.filter((id) => !found.has(id));
        const rows = await client.query<Row>(`SELECT * FROM ${TABLE} WHERE id = ANY($1)`, [missing]).then((r) => r.rows, () => []);
        for (const r of rows) {
          found.set(r.id, {
            id: r.id, deviceId: r.device_id, tagName: r.tag_name, quality: r.quality, timestamp: r.time.getTime(),
            value: r.value_double ?? r.value_text ?? r.value_bool ?? r.value_json,
          });
        }
        if (found.size === ids.length || Date.now() > deadline) return found;
        await new Promise((res) => setTimeout(res, 200));
      }
    },
    async close() { await client.end(); },
  };
}

function config(peer: PostgresPeer, variant: ConnectionVariant): ConnectorSetup | undefined {
  const base = { host: peer.host, port: peer.port, database: peer.database, username: peer.user, password: peer.password, table: TABLE };
  switch (variant.kind) {
    case 'plain': return { config: { ...base, ssl_mode: 'disable' } };
    case 'bad-credentials': return { config: { ...base, ssl_mode: 'disable', password: 'wrong' } };
    case 'proxied': return { config: { ...base, ssl_mode: 'disable', host: variant.host, port: variant.port } };
    case 'tls': return { config: base, tls: { ca: peer.ca, rejectUnauthorized: true } };
    case 'untrusted-ca': return { config: base, tls: { ca: peer.otherCa, rejectUnauthorized: true } };
    case 'mtls': {
      const { password: _none, ...noPassword } = base;
      return { config: { ...noPassword, username: peer.clientCert.user }, tls: { ca: peer.ca, cert: peer.clientCert.cert, key: peer.clientCert.key, rejectUnauthorized: true } };
    }
    default: return undefined;
  }
}

describeConnector<PostgresPeer>({
  name: 'timescale on PostgreSQL',
  plugin: timescale,
  peer: () => startPostgres(bin!),
  dispose: (p) => p.dispose(),
  config,
  readBack: collector,
  address: (p) => ({ host: p.host, port: p.port }),
  restart: (p) => p.restart(),
  stop: (p) => p.stop(),
  start: (p) => p.start(),
  // PostgreSQL text cannot hold a NUL character (SQLSTATE 22021): refused, always.
  poison: (): DataPoint => ({ id: newPointId(), deviceId: 'poison', tagName: 'nul', value: 'a\u0000b', quality: 'GOOD', timestamp: Date.now() }),
}, bin ? undefined : []);
