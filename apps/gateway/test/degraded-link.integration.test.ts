// The real `bifrost` process publishing to Mosquitto through Toxiproxy while the link goes through
// every toxic (latency with jitter, a bandwidth cap, a black hole, a timeout, resets, the proxy down,
// a data limit per connection, a slicer). Every point that got a 2xx must reach an independent QoS 1
// subscriber, and delivery must recover.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mosquittoBinary,
  recordProof,
  requirePeer,
  startMosquitto,
  startToxiproxy,
  toxiproxyBinary,
  type MosquittoPeer,
  type ToxiproxyPeer,
  type ToxiproxyProxy,
} from '@bifrost/connector-testkit';
import { subscribeIds, type IdSubscriber } from './support/id-subscriber.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess, postAtRate, testGatewayConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';
import { EVERY_TOXIC, describePhases, runToxicPhases } from './support/toxic-phases.js';

const mosquitto = requirePeer('mosquitto', mosquittoBinary);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);
const PHASE_MS = 3_000;
const LEAD_MS = 2_000;
const RATE_PER_S = 500;
const BATCH = 50;
/** Posting covers the lead, every phase and 2 s of healed link. */
const TOTAL = ((LEAD_MS + EVERY_TOXIC.length * PHASE_MS + 2_000) / 1000) * RATE_PER_S;

describe.skipIf(!mosquitto.available || !toxiproxy.available)('gateway over a degraded link (Toxiproxy)', () => {
  let dir: string;
  let broker: MosquittoPeer;
  let toxi: ToxiproxyPeer;
  let proxy: ToxiproxyProxy;
  let gateway: GatewayProcess;
  let ids: IdSubscriber;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-degraded-'));
    broker = await startMosquitto();
    toxi = await startToxiproxy();
    proxy = await toxi.client.createProxy({ upstream: `127.0.0.1:${broker.ports.mqtt}` });
    const apiPort = await freePort();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      testGatewayConfig(
        apiPort,
        ['batch_size: 200', 'health_check_interval: 1s', 'queue: { path: ./queue }'],
        [
          '      broker:',
          '        type: mqtt',
          `        endpoint: mqtt://${proxy.host}:${proxy.port}`,
          '        timeout: 2s',
          '        retry_delay: 100ms',
          '        retry: { max: 1s }',
          '        breaker: { failure_threshold: 5, reset: 1s }',
          '        provider_config: { qos: 1, topic_prefix: degraded, keepalive_s: 2, connect_timeout_ms: 2000 }',
        ],
      ),
    );
    gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`);
    // The subscriber talks to the broker directly: only the gateway's link is degraded.
    ids = subscribeIds(broker.url, 'bifrost-degraded-subscriber', 'degraded/#');
    await waitUntil('subscriber connected', () => ids.client.connected);
    await gateway.start();
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    ids?.client.end(true);
    await toxi?.dispose();
    await broker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every acknowledged point through every toxic, then recovers', async () => {
    const start = Date.now();
    const durationMs = (TOTAL / RATE_PER_S) * 1000;
    const phases = runToxicPhases(proxy, EVERY_TOXIC, start + LEAD_MS, PHASE_MS);

    const { accepted } = await postAtRate(gateway.apiUrl, {
      total: TOTAL,
      batch: BATCH,
      ratePerS: RATE_PER_S,
      devices: 10,
      start,
    });
    await phases;

    const missing = await ids.missing(accepted, 60_000);
    const duplicates = ids.duplicates();
    const metrics = (await (await fetch(`${gateway.apiUrl}/api/cloud/metrics`)).json()) as {
      connectors: Array<{ failed: number; retries: number; queue: { depth: number }; breaker: string }>;
    };
    const [m] = metrics.connectors;
    if (!m) throw new Error('the metrics list no connector');
    console.log(
      `[degraded] ${accepted.size} accepted over ${(durationMs / 1000).toFixed(0)} s of ${describePhases(EVERY_TOXIC)}; ` +
        `missing ${missing.length}, duplicates ${duplicates}, failed write attempts ${m.failed} points, retries ${m.retries}`,
    );
    recordProof({
      scenario: 'toxiproxy-mqtt',
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
});
