import { describe } from 'vitest';
import pg from 'pg';
import {
  createTlsFixture,
  describeConnector,
  postgresInstallation,
  requirePeer,
  startPostgres,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type Collector,
  type ConnectionVariant,
  type ConnectorSetup,
  type ConnectorUnderTest,
  type PostgresPeer,
  type ReceivedPoint,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import timescale from '../src/index.js';

const postgres = requirePeer('postgres', postgresInstallation);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

/** A PostgreSQL with TLS (password auth), one that also requires a client certificate, the run's TLS material. */
interface Peers {
  db: PostgresPeer;
  mtlsDb: PostgresPeer;
  tls: TlsFixture;
}

const TABLE = 'conformance';

interface Row {
  id: string;
  time: Date;
  device_id: string;
  tag_name: string;
  quality: string;
  value_double: number | null;
  value_text: string | null;
  value_bool: boolean | null;
  value_json: unknown;
}

/** Polls the table of both servers for the wanted ids (through pools, which outlive restarts). */
function collector(peers: Peers): Collector {
  const pools = [peers.db, peers.mtlsDb].map((p) => {
    const pool = new pg.Pool({
      host: p.host,
      port: p.port,
      user: p.superuser.username,
      password: p.superuser.password,
      database: p.database,
      max: 1,
      ssl: { ...peers.tls.clientTls('mtls') },
    });
    pool.on('error', () => undefined);
    return pool;
  });
  return {
    async waitFor(ids, timeoutMs) {
      const found = new Map<string, ReceivedPoint>();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const missing = ids.filter((id) => !found.has(id));
        // The table may not exist yet, and a server is down during outage scenarios: read what can be read.
        const rows = (
          await Promise.all(
            pools.map((pool) =>
              pool.query<Row>(`SELECT * FROM ${TABLE} WHERE id = ANY($1)`, [missing]).then(
                (r) => r.rows,
                () => [],
              ),
            ),
          )
        ).flat();
        for (const r of rows) {
          found.set(r.id, {
            id: r.id,
            deviceId: r.device_id,
            tagName: r.tag_name,
            quality: r.quality,
            timestamp: r.time.getTime(),
            value: r.value_double ?? r.value_text ?? r.value_bool ?? r.value_json,
          });
        }
        if (found.size === ids.length || Date.now() > deadline) return found;
        await new Promise((res) => setTimeout(res, 200));
      }
    },
    async close() {
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

function config({ db, mtlsDb, tls }: Peers, variant: ConnectionVariant): ConnectorSetup | undefined {
  const plain = { endpoint: db.url, table: TABLE, ssl_mode: 'disable' };
  const secure = { endpoint: db.url, table: TABLE };
  const mutual = { endpoint: mtlsDb.url, table: TABLE };
  switch (variant.kind) {
    case 'plain':
      return { config: plain };
    case 'bad-credentials':
      return { config: { ...plain, password: 'wrong' } };
    case 'proxied':
      return { config: { ...plain, host: variant.host, port: variant.port } };
    case 'tls':
      return { config: secure, tls: tls.clientTls('tls') };
    case 'untrusted-ca':
      return { config: secure, tls: tls.clientTls('untrusted-ca') };
    case 'mtls':
      return { config: mutual, tls: tls.clientTls('mtls') };
    case 'expired-cert':
      return { config: mutual, tls: tls.clientTls('expired-cert') };
  }
}

const target = {
  name: 'timescale on PostgreSQL',
  plugin: timescale,
  async peer() {
    const tls = createTlsFixture();
    const db = await startPostgres({ tls: tls.serverTls() });
    const mtlsDb = await startPostgres({ tls: tls.serverTls(), requireClientCert: true });
    return { db, mtlsDb, tls };
  },
  async dispose(p) {
    await p.db.dispose();
    await p.mtlsDb.dispose();
    p.tls.dispose();
  },
  config,
  readBack: (peers) => Promise.resolve(collector(peers)),
  address: (p) => ({ host: p.db.host, port: p.db.port }),
  ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
  restart: (p) => p.db.restart(),
  stop: (p) => p.db.stop(),
  start: (p) => p.db.start(),
  // SIGKILL, as in a power cut of its host: what PostgreSQL acknowledged (COMMIT) must survive,
  // what it did not is redelivered without duplicates.
  kill: async (p) => {
    await p.db.kill();
    await p.db.start();
  },
  // PostgreSQL text cannot hold a NUL character (SQLSTATE 22021): refused, always.
  poison: (): DataPoint => ({
    id: newPointId(),
    deviceId: 'poison',
    tagName: 'nul',
    value: 'a\u0000b',
    quality: 'GOOD',
    timestamp: Date.now(),
  }),
} satisfies ConnectorUnderTest<Peers>;

describe.skipIf(!postgres.available)('timescale', () => {
  describeConnector<Peers>(target);
});
