// Certificate rotation without a restart: the gateway's MQTT connector talks mTLS to Mosquitto and
// its client certificate files are replaced twice mid-run. A certificate the broker refuses (no
// clientAuth usage) stops delivery, which shows the rotated files are really used; the next valid
// certificate resumes it with nothing lost. The expiry gauge on /metrics follows each rotation.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPointId, type DataPoint } from '@bifrost/core';
import {
  createTlsFixture,
  issueCertificate,
  mosquittoBinary,
  requirePeer,
  startMosquitto,
  type MosquittoPeer,
  type PemPair,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import { loadConfigFile } from '../src/config/load.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { waitUntil } from './support/net.js';

const mosquitto = requirePeer('mosquitto', mosquittoBinary);
const DAY_S = 86_400;

describe.skipIf(!mosquitto.available)('TLS certificate rotation (Mosquitto mTLS)', () => {
  let dir: string;
  let fixture: TlsFixture;
  let broker: MosquittoPeer;
  let gw: RunningGateway;
  let subscriber: mqtt.MqttClient;
  const received = new Set<string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-tls-rotation-'));
    fixture = createTlsFixture();
    broker = await startMosquitto({ tls: fixture.serverTls() });
    subscriber = mqtt.connect(broker.url, { clientId: 'rotation-subscriber', reconnectPeriod: 200 });
    subscriber.on('connect', () => subscriber.subscribe('rot/#', { qos: 1 }));
    subscriber.on('message', (_t, payload) => received.add((JSON.parse(payload.toString()) as { id: string }).id));
    await waitUntil('subscriber connected', () => subscriber.connected);

    writeFileSync(join(dir, 'ca.pem'), fixture.ca.cert);
    writeFileSync(join(dir, 'client.pem'), fixture.client.cert);
    writeFileSync(join(dir, 'client.key'), fixture.client.key, { mode: 0o600 });
    writeFileSync(
      join(dir, 'gateway.yaml'),
      [
        'gateway:',
        '  throughput_log_interval: 0',
        '  api: { port: 0 }',
        '  cloud:',
        '    batch_timeout: 10ms',
        '    connectors:',
        '      secure:',
        '        type: mqtt',
        `        endpoint: ${broker.mtlsUrl}`,
        '        tls_enabled: true',
        '        ca_file: ca.pem',
        '        cert_file: client.pem',
        '        key_file: client.key',
        '        retry: { initial: 100ms, max: 500ms }',
        '        breaker: { reset: 500ms }',
        '        provider_config: { topic_prefix: rot, client_id: rotation-gateway }',
        '',
      ].join('\n'),
    );
    const loaded = loadConfigFile(join(dir, 'gateway.yaml'));
    expect(loaded.issues).toEqual([]);
    gw = await startGateway(loaded, { logger: pino({ level: 'silent' }) });
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    subscriber?.end(true);
    await broker?.dispose();
    fixture?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const send = async (n: number): Promise<string[]> => {
    const points: DataPoint[] = Array.from({ length: n }, (_, i) => ({
      id: newPointId(),
      deviceId: 'PLC1',
      tagName: 'temp',
      value: i,
      quality: 'GOOD',
      timestamp: Date.now(),
    }));
    await gw.pipeline.ingest(points);
    return points.map((p) => p.id);
  };
  const certExpiry = async (): Promise<number> => {
    const text = await (await fetch(`${gw.apiUrl}/metrics`)).text();
    const m = /^bifrost_tls_certificate_expiry_seconds\{connector="mqtt:secure",file="cert_file"\} (-?\d+)$/m.exec(
      text,
    );
    if (!m)
      throw new Error(
        `no cert_file expiry on /metrics:\n${text
          .split('\n')
          .filter((l) => l.includes('tls'))
          .join('\n')}`,
      );
    return Number(m[1]);
  };

  /** Replaces the key and certificate files as a secret manager would: written beside, renamed into place. */
  const rotateTo = (pair: PemPair): void => {
    writeFileSync(join(dir, 'client.key.new'), pair.key, { mode: 0o600 });
    writeFileSync(join(dir, 'client.pem.new'), pair.cert);
    renameSync(join(dir, 'client.key.new'), join(dir, 'client.key'));
    renameSync(join(dir, 'client.pem.new'), join(dir, 'client.pem'));
  };
  const days = (n: number) => new Date(Date.now() + n * DAY_S * 1000);
  const gatewayConnects = () =>
    broker
      .logs()
      .split('\n')
      .filter((l) => l.includes('New client connected') && l.includes('as rotation-gateway')).length;

  it('uses rotated client certificate files without a restart, and the expiry gauge follows', async () => {
    const first = await send(20);
    await waitUntil('points delivered with the first certificate', () => first.every((id) => received.has(id)));
    expect(await certExpiry()).toBeGreaterThan(29 * DAY_S); // the fixture's client certificate: 30 days
    const connectsBefore = gatewayConnects();

    // A certificate of the right CA that the broker refuses as a client certificate (serverAuth only).
    rotateTo(
      issueCertificate({ commonName: 'bifrost-client', issuer: fixture.ca, usage: ['serverAuth'], notAfter: days(20) }),
    );
    await waitUntil('gauge shows the refused certificate', async () => (await certExpiry()) < 21 * DAY_S);
    const blocked = await send(20);
    await sleep(2_000);
    expect(blocked.filter((id) => received.has(id))).toEqual([]);
    expect(gw.pipeline.metricsSnapshot().connectors[0]?.queue.depth).toBe(20);

    // A valid certificate: delivery resumes with it, nothing lost, no restart.
    rotateTo(
      issueCertificate({
        commonName: 'bifrost-client-rotated',
        issuer: fixture.ca,
        usage: ['clientAuth'],
        notAfter: days(10),
      }),
    );
    await waitUntil('gauge shows the new certificate', async () => (await certExpiry()) < 11 * DAY_S);
    const last = await send(20);
    await waitUntil(
      'queued and new points delivered',
      () => [...blocked, ...last].every((id) => received.has(id)),
      20_000,
    );
    expect(gatewayConnects()).toBeGreaterThan(connectsBefore);
    // The subscriber can see a message before the gateway has its PUBACK: wait for the acks.
    await waitUntil('every point acked', () => gw.pipeline.metricsSnapshot().connectors[0]?.queue.depth === 0);
    expect(gw.pipeline.metricsSnapshot().connectors[0]?.sent).toBeGreaterThanOrEqual(60);
  }, 60_000);
});

describe('TLS certificate rotation of the HTTPS API', () => {
  /** Common name of the certificate the API presents on a fresh connection. */
  const servedCn = (url: string, ca: string): Promise<string> =>
    new Promise((resolve, reject) => {
      get(`${url}/health`, { ca, agent: false }, (res) => {
        const cn = (res.socket as TLSSocket).getPeerCertificate().subject.CN;
        res.resume();
        res.on('end', () => resolve(String(cn)));
      }).on('error', reject);
    });

  it('serves the new certificate after its files are replaced, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bifrost-api-rotation-'));
    const fixture = createTlsFixture();
    let gw: RunningGateway | undefined;
    try {
      writeFileSync(join(dir, 'api.pem'), fixture.server.cert);
      writeFileSync(join(dir, 'api.key'), fixture.server.key, { mode: 0o600 });
      writeFileSync(
        join(dir, 'gateway.yaml'),
        [
          'gateway:',
          '  throughput_log_interval: 0',
          '  api: { port: 0, tls: { cert_file: api.pem, key_file: api.key } }',
          '  cloud:',
          '    connectors:',
          '      file:',
          '        type: jsonl',
          `        plugin: ${join(import.meta.dirname, 'fixtures', 'bifrost-connector-jsonl')}`,
          `        provider_config: { path: ${join(dir, 'out.jsonl')} }`,
          '',
        ].join('\n'),
      );
      const loaded = loadConfigFile(join(dir, 'gateway.yaml'));
      expect(loaded.issues).toEqual([]);
      gw = await startGateway(loaded, { logger: pino({ level: 'silent' }) });
      expect(await servedCn(gw.apiUrl, fixture.ca.cert)).toBe('localhost');

      const next = issueCertificate({
        commonName: 'bifrost-api-rotated',
        issuer: fixture.ca,
        usage: ['serverAuth'],
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
      });
      writeFileSync(join(dir, 'api.key.new'), next.key, { mode: 0o600 });
      writeFileSync(join(dir, 'api.pem.new'), next.cert);
      renameSync(join(dir, 'api.key.new'), join(dir, 'api.key'));
      renameSync(join(dir, 'api.pem.new'), join(dir, 'api.pem'));
      const url = gw.apiUrl;
      await waitUntil(
        'API serves the rotated certificate',
        async () => (await servedCn(url, fixture.ca.cert)) === 'bifrost-api-rotated',
      );
      expect(await gw.pipeline.registry.metrics()).toMatch(
        /^bifrost_tls_certificate_expiry_seconds\{connector="api",file="cert_file"\} \d+$/m,
      );
    } finally {
      await gw?.stop();
      fixture.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
