// End to end: the real `bifrost` process, REST ingest, Mosquitto in its own process, an independent
// QoS 1 subscriber. While 100,000 points are posted at a steady rate the gateway is SIGKILLed and
// restarted 20 times and the broker restarted 5 times, on a seeded schedule; every point that got a
// 2xx must arrive, and the copies that arrive twice stay within the in-flight window per fault.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribeIds, type IdSubscriber } from './support/id-subscriber.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mosquittoBinary,
  recordProof,
  requirePeer,
  startMosquitto,
  testRandom,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import { GatewayProcess, postAtRate, testGatewayConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';

const TOTAL = 100_000;
const BATCH = 50;
const RATE_PER_S = 1_250;
const GATEWAY_KILLS = 20;
const BROKER_RESTARTS = 5;
const BATCH_SIZE = 500;
const MAX_IN_FLIGHT = 2;
/** Points one fault can cause to be sent again: every batch in flight when it struck. */
const IN_FLIGHT_WINDOW = BATCH_SIZE * MAX_IN_FLIGHT;

const mosquitto = requirePeer('mosquitto', mosquittoBinary);

type Fault = { at: number; kind: 'gateway' | 'broker' };

/**
 * The fault moments: the posting window (after a 2 s start) cut into one slot per fault, each fault
 * at a random point of the first 40% of its slot so the previous restart is done; which slots
 * restart the broker instead of killing the gateway is drawn too.
 */
function faultSchedule(random: () => number, durationMs: number): Fault[] {
  const count = GATEWAY_KILLS + BROKER_RESTARTS;
  const slot = (durationMs - 3_000) / count;
  const brokerSlots = new Set<number>();
  while (brokerSlots.size < BROKER_RESTARTS) brokerSlots.add(Math.floor(random() * count));
  return Array.from({ length: count }, (_, i) => ({
    at: 2_000 + i * slot + random() * slot * 0.4,
    kind: brokerSlots.has(i) ? 'broker' : 'gateway',
  }));
}

describe.skipIf(!mosquitto.available)('gateway end to end (kill -9, broker restarts)', () => {
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
        [`batch_size: ${BATCH_SIZE}`, 'queue: { path: ./queue, sync: batch }'],
        [
          '      broker:',
          '        type: mqtt',
          `        endpoint: ${broker.url}`,
          `        max_in_flight: ${MAX_IN_FLIGHT}`,
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

  it(`delivers every acknowledged point through ${GATEWAY_KILLS} SIGKILLs of the gateway and ${BROKER_RESTARTS} broker restarts`, async () => {
    const durationMs = (TOTAL / RATE_PER_S) * 1000;
    const { seed, random } = testRandom('e2e kill schedule');
    const schedule = faultSchedule(random, durationMs);
    const start = Date.now();

    const chaos = (async () => {
      for (const fault of schedule) {
        await sleepUntil(start + fault.at);
        if (fault.kind === 'broker') {
          await broker.stop(); // SIGTERM: Mosquitto saves its sessions and queued messages
          await sleep(500 + random() * 1_000);
          await broker.start();
        } else {
          await gateway.stop('SIGKILL');
          await sleep(random() * 700);
          await gateway.start();
        }
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
        `gateway started ${gateway.starts} times (${GATEWAY_KILLS} SIGKILLs), broker restarted ${BROKER_RESTARTS} times; ` +
        `received ${ids.received.size} distinct ids, missing ${missing.length}, duplicates ${duplicates}`,
    );
    recordProof({
      scenario: 'e2e-kill',
      points: accepted.size,
      faults: `${GATEWAY_KILLS} gateway SIGKILLs, ${BROKER_RESTARTS} Mosquitto restarts`,
      lost: missing.length,
      duplicates,
      seconds: Math.round((Date.now() - start) / 1000),
      seed,
    });
    expect(gateway.starts).toBe(GATEWAY_KILLS + 1);
    expect(accepted.size).toBe(TOTAL);
    expect(missing).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual((GATEWAY_KILLS + BROKER_RESTARTS) * IN_FLIGHT_WINDOW);
  }, 240_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepUntil = (t: number) => sleep(Math.max(0, t - Date.now()));
