// The real `bifrost` process writing to PostgreSQL (TimescaleDB when installed) through Toxiproxy
// while the link goes through every toxic, as the MQTT degraded-link test does. Every point that got
// a 2xx must be a row, read back with `pg` directly (not through the proxy), and delivery must recover.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  postgresInstallation,
  recordProof,
  requirePeer,
  showPeerLogsOnFailure,
  startPostgres,
  startToxiproxy,
  toxiproxyBinary,
  type PostgresPeer,
  type ToxiproxyPeer,
  type ToxiproxyProxy,
} from '@bifrost/connector-testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, postAtRate, testGatewayConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';
import { postgresIds, readBack, type IdReader } from './support/sink-readers.js';
import { EVERY_TOXIC, describePhases, runToxicPhases } from './support/toxic-phases.js';

const postgresPeer = requirePeer('postgres', postgresInstallation);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);
const PHASE_MS = 3_000;
const LEAD_MS = 2_000;
const RATE_PER_S = 500;
const BATCH = 50;
const TOTAL = ((LEAD_MS + EVERY_TOXIC.length * PHASE_MS + 2_000) / 1000) * RATE_PER_S;
const TABLE = 'degraded_points';

describe.skipIf(!postgresPeer.available || !toxiproxy.available)(
  'gateway to TimescaleDB over a degraded link (Toxiproxy)',
  () => {
    let dir: string;
    let postgres: PostgresPeer;
    let toxi: ToxiproxyPeer;
    let proxy: ToxiproxyProxy;
    let gateway: GatewayProcess;
    let rows: IdReader;
    showPeerLogsOnFailure(() => [postgres, toxi]);

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'bifrost-degraded-tsdb-'));
      [postgres, toxi] = await Promise.all([startPostgres(), startToxiproxy()]);
      proxy = await toxi.client.createProxy({ upstream: `127.0.0.1:${postgres.port}` });
      const proxied = new URL(postgres.url);
      proxied.host = `${proxy.host}:${proxy.port}`;
      const apiPort = await freePort();
      const config = join(dir, 'gateway.yaml');
      writeFileSync(
        config,
        testGatewayConfig(
          apiPort,
          ['batch_size: 200', 'health_check_interval: 1s', 'queue: { path: ./queue }'],
          [
            '      tsdb:',
            '        type: timescale',
            `        endpoint: ${JSON.stringify(proxied.href)}`,
            '        timeout: 3s',
            '        retry_delay: 100ms',
            '        retry: { max: 1s }',
            '        breaker: { failure_threshold: 5, reset: 1s }',
            `        provider_config: ${JSON.stringify({ table: TABLE, ssl_mode: 'disable', connect_timeout: '2s', statement_timeout: '2s' })}`,
          ],
        ),
      );
      gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`);
      await gateway.start();
      // The reader talks to PostgreSQL directly: only the gateway's link is degraded.
      rows = await postgresIds(postgres.url, TABLE);
    }, 90_000);

    afterAll(async () => {
      await gateway?.stop('SIGKILL');
      await rows?.close();
      await toxi?.dispose();
      await postgres?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('stores every acknowledged point through every toxic, then recovers', async () => {
      const start = Date.now();
      const phases = runToxicPhases(proxy, EVERY_TOXIC, start + LEAD_MS, PHASE_MS);
      const { accepted } = await postAtRate(gateway.apiUrl, {
        total: TOTAL,
        batch: BATCH,
        ratePerS: RATE_PER_S,
        devices: 10,
        start,
      });
      await phases;

      const stored = await readBack(rows, [...accepted], 60_000);
      const missing = [...accepted].filter((id) => !stored.has(id));
      const duplicates = await countDuplicateRows(postgres.url);
      const metrics = (await (await fetch(`${gateway.apiUrl}/api/cloud/metrics`)).json()) as {
        connectors: Array<{ failed: number; retries: number; queue: { depth: number }; breaker: string }>;
      };
      const [m] = metrics.connectors;
      if (!m) throw new Error('the metrics list no connector');
      console.log(
        `[degraded-tsdb] ${accepted.size} accepted through ${describePhases(EVERY_TOXIC)}; ` +
          `missing ${missing.length}, duplicate rows ${duplicates}, failed write attempts ${m.failed} points, retries ${m.retries}`,
      );
      recordProof({
        scenario: 'toxiproxy-timescale',
        points: accepted.size,
        faults: describePhases(EVERY_TOXIC),
        lost: missing.length,
        duplicates,
        seconds: Math.round((Date.now() - start) / 1000),
      });
      expect(accepted.size).toBe(TOTAL);
      expect(missing).toEqual([]);
      expect(m.failed).toBeGreaterThan(0); // the faults really hit delivery
      await waitUntil(
        'queue drained and breaker closed',
        async () => {
          const now = (await (await fetch(`${gateway.apiUrl}/api/cloud/metrics`)).json()) as typeof metrics;
          return now.connectors[0]?.queue.depth === 0 && now.connectors[0]?.breaker === 'closed';
        },
        20_000,
      );
    }, 150_000);
  },
);

/** Rows beyond the first per point id (the connector's `ON CONFLICT DO NOTHING` should keep this 0). */
async function countDuplicateRows(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ extra: string }>(`SELECT count(*) - count(DISTINCT id) AS extra FROM ${TABLE}`);
    return Number(res.rows[0]?.extra ?? 0);
  } finally {
    await client.end();
  }
}
