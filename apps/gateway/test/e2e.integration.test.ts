// End to end: the real `bifrost` process, REST ingest, Mosquitto in its own process, an independent
// subscriber. The gateway is SIGKILLed and restarted at random moments and the broker restarted
// once while 50,000 points are posted at a steady rate; every point that got a 2xx must arrive.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribeIds, type IdSubscriber } from './support/id-subscriber.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mosquittoBinary,
  requirePeer,
  startMosquitto,
  testRandom,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import { GatewayProcess, postAtRate, testGatewayConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';

const TOTAL = 50_000;
const BATCH = 50;
const RATE_PER_S = 1_250;
const GATEWAY_KILLS = 6;

const mosquitto = requirePeer('mosquitto', mosquittoBinary);

describe.skipIf(!mosquitto.available)('gateway end to end (kill -9, broker restart)', () => {
  let dir: string;
  let broker: MosquittoPeer;
  let gateway: GatewayProcess;
  let ids: IdSubscriber;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-e2e-'));
    broker = await startMosquitto();
    const apiPort = await freePort();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      testGatewayConfig(
        apiPort,
        ['batch_size: 500', 'queue: { path: ./queue, sync: batch }'],
        [
          '      broker:',
          '        type: mqtt',
          `        endpoint: ${broker.url}`,
          '        timeout: 5s',
          '        retry_delay: 100ms',
          '        retry: { max: 1s }',
          '        breaker: { failure_threshold: 10, reset: 1s }',
          '        provider_config: { qos: 1, topic_prefix: e2e, client_id: bifrost-e2e-gateway }',
        ],
      ),
    );
    gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`);

    ids = subscribeIds(broker.url, 'bifrost-e2e-subscriber', 'e2e/#');
    await waitUntil('subscriber connected', () => ids.client.connected);
    await gateway.start();
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    ids?.client.end(true);
    await broker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every acknowledged point through SIGKILLs of the gateway and a broker restart', async () => {
    const durationMs = (TOTAL / RATE_PER_S) * 1000;
    const { random } = testRandom('e2e kill schedule');
    const start = Date.now();
    // Random kill moments, at least 2.5 s apart, within the posting window; the broker restarts once mid-run.
    const kills: number[] = [];
    while (kills.length < GATEWAY_KILLS) {
      const t = 2_000 + random() * (durationMs - 4_000);
      if (kills.every((k) => Math.abs(k - t) > 2_500)) kills.push(t);
    }
    kills.sort((a, b) => a - b);
    const brokerRestartAt = durationMs * 0.45;

    const chaos = (async () => {
      let brokerDone = false;
      for (const at of kills) {
        if (!brokerDone && at > brokerRestartAt) {
          await sleepUntil(start + brokerRestartAt);
          await broker.stop(); // SIGTERM: Mosquitto saves its sessions and queued messages
          await sleep(1_000);
          await broker.start();
          brokerDone = true;
        }
        await sleepUntil(start + at);
        await gateway.stop('SIGKILL');
        await sleep(random() * 700);
        await gateway.start();
      }
    })();

    // Rejects as soon as the chaos task fails (e.g. a restart that did not come up), so posting stops at once.
    const chaosFailed = chaos.then(() => new Promise<never>(() => {}));
    // The same points again until the gateway answers 2xx (it may be dead or restarting).
    const { accepted, rejected } = await postAtRate(gateway.apiUrl, {
      total: TOTAL,
      batch: BATCH,
      ratePerS: RATE_PER_S,
      devices: 20,
      start,
      abort: chaosFailed,
    });
    await chaos;
    const postedIn = Date.now() - start;

    const missing = await ids.missing(accepted, 90_000);
    const duplicates = ids.duplicates();
    console.log(
      `[e2e] ${accepted.size} points accepted in ${(postedIn / 1000).toFixed(1)} s (${rejected} failed POST attempts during restarts), ` +
        `gateway started ${gateway.starts} times (${GATEWAY_KILLS} SIGKILLs), broker restarted once; ` +
        `received ${ids.received.size} distinct ids, missing ${missing.length}, duplicates ${duplicates}`,
    );
    expect(gateway.starts).toBe(GATEWAY_KILLS + 1);
    expect(accepted.size).toBe(TOTAL);
    expect(missing).toEqual([]);
  }, 170_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - Date.now()));
