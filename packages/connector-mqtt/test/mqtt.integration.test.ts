import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, type DataPoint, type TlsMaterial } from '@bifrost/core';
import {
  createTlsFixture,
  makePoints,
  mosquittoBinary,
  noCancel,
  requirePeer,
  silentLogger,
  startMosquitto,
  type MosquittoPeer,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import { connect, type IPublishPacket } from 'mqtt';
import mqtt, { ID_PROPERTY, type MqttConnector } from '../src/index.js';

const mosquitto = requirePeer('mosquitto', mosquittoBinary);
const USER = { username: 'bifrost', password: 'mqtt-it-secret' };

interface Received {
  topic: string;
  payload: unknown;
  retain: boolean;
  userProperties?: Record<string, string | string[]>;
}

/** Subscribes to `filter` and keeps every message. */
async function subscribe(url: string, filter: string) {
  const messages: Received[] = [];
  const client = connect(url, { ...USER, protocolVersion: 5, reconnectPeriod: 0 });
  client.on('message', (topic, payload, packet: IPublishPacket) => {
    messages.push({
      topic,
      payload: JSON.parse(payload.toString()),
      retain: packet.retain,
      userProperties: packet.properties?.userProperties,
    });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    messages,
    async until(count: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return messages;
    },
    close: () => client.endAsync(true),
  };
}

/** A port free on 127.0.0.1 right now (for the extra WebSocket listener). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!mosquitto.available)('mqtt connector on mosquitto', () => {
  let broker: MosquittoPeer;
  let aclDir: string;
  let wsPort: number;
  let tls: TlsFixture;
  const open: MqttConnector[] = [];

  beforeAll(async () => {
    aclDir = mkdtempSync(join(tmpdir(), 'bifrost-mqtt-acl-'));
    writeFileSync(join(aclDir, 'acl'), `user ${USER.username}\ntopic readwrite it/#\ntopic readwrite industrial/#\n`);
    wsPort = await freePort();
    tls = createTlsFixture();
    broker = await startMosquitto({
      tls: tls.serverTls(),
      users: [USER],
      conf: [`acl_file ${join(aclDir, 'acl')}`, `listener ${wsPort} 127.0.0.1`, 'protocol websockets'],
    });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await broker?.dispose();
    tls?.dispose();
    rmSync(aclDir, { recursive: true, force: true });
  });

  async function connector(config: Record<string, unknown>, tlsMaterial?: TlsMaterial): Promise<MqttConnector> {
    const c = mqtt.create(mqtt.configSchema.parse({ endpoint: broker.url, ...USER, ...config }), {
      name: 'it',
      logger: silentLogger,
      signal: new AbortController().signal,
      ...(tlsMaterial ? { tls: tlsMaterial } : {}),
    }) as MqttConnector;
    open.push(c);
    await c.connect();
    return c;
  }

  for (const protocol of [4, 5] as const) {
    it(`QoS 2 over protocol ${protocol}: every message of large batches arrives exactly once`, async () => {
      const sub = await subscribe(broker.url, `it/qos2-${protocol}/#`);
      const c = await connector({ protocol_version: protocol, qos: 2, topic_prefix: `it/qos2-${protocol}` });
      const points = makePoints(3_000, `q2v${protocol}`);
      for (let i = 0; i < points.length; i += 1_000) await c.write(points.slice(i, i + 1_000), noCancel());
      const got = await sub.until(points.length);
      await sub.close();
      expect(new Set(got.map((m) => (m.payload as DataPoint).id)).size).toBe(points.length);
      expect(got).toHaveLength(points.length);
    });
  }

  it('MQTT 5: the bifrost-id user property carries the point id that is also in the payload', async () => {
    const sub = await subscribe(broker.url, 'it/ids/#');
    const c = await connector({ protocol_version: 5, topic_prefix: 'it/ids' });
    const points = makePoints(20, 'ids');
    await c.write(points, noCancel());
    const got = await sub.until(points.length);
    await sub.close();
    expect(got.map((m) => m.userProperties?.[ID_PROPERTY])).toEqual(got.map((m) => (m.payload as DataPoint).id));
    expect(got.map((m) => (m.payload as DataPoint).id).sort()).toEqual(points.map((p) => p.id).sort());
  });

  it("the seed's data / event / alarm topics route by quality", async () => {
    const sub = await subscribe(broker.url, 'industrial/#');
    const c = await connector({
      topic_prefix: 'industrial',
      data_topic: 'telemetry',
      event_topic: 'events',
      alarm_topic: 'alarms',
      retain: false,
    });
    const [good, alarm, event] = makePoints(3, 'route');
    await c.write(
      [
        { ...good!, deviceId: 'PLC001', tagName: 'temperature' },
        { ...alarm!, deviceId: 'PLC001', tagName: 'pressure', quality: 'ALARM' },
        { ...event!, deviceId: 'PLC002', tagName: 'door', quality: 'EVENT' },
      ],
      noCancel(),
    );
    const got = await sub.until(3);
    await sub.close();
    expect(got.map((m) => m.topic).sort()).toEqual([
      'industrial/alarms/PLC001/pressure',
      'industrial/events/PLC002/door',
      'industrial/telemetry/PLC001/temperature',
    ]);
  });

  it('json-batch sends one array per topic (10 devices) per batch', async () => {
    const sub = await subscribe(broker.url, 'it/batch/#');
    const c = await connector({ topic_prefix: 'it/batch', payload_format: 'json-batch' });
    const points = makePoints(100, 'batch').map((p) => ({ ...p, tagName: 'level' }));
    const receipt = await c.write(points, noCancel());
    const got = await sub.until(10);
    await new Promise((r) => setTimeout(r, 200));
    await sub.close();
    expect(got).toHaveLength(10);
    const ids = got.flatMap((m) => (m.payload as DataPoint[]).map((p) => p.id));
    expect(ids.sort()).toEqual(points.map((p) => p.id).sort());
    // The receipt counts the payload bytes the subscriber received (for bifrost_cloud_bytes_sent_total).
    expect(receipt).toEqual({ bytes: got.reduce((n, m) => n + Buffer.byteLength(JSON.stringify(m.payload)), 0) });
  });

  it('retain: a subscriber arriving later gets the last reading', async () => {
    const c = await connector({ topic_prefix: 'it/retain', retain: true });
    const [p] = makePoints(1, 'retain');
    await c.write([p!], noCancel());
    const sub = await subscribe(broker.url, 'it/retain/#');
    const got = await sub.until(1);
    await sub.close();
    expect(got[0]).toMatchObject({ retain: true, payload: { id: p!.id } });
  });

  it('MQTT 5: a publish the broker refuses (PUBACK 0x87 not authorized) is an AuthError, never success', async () => {
    const c = await connector({ protocol_version: 5, topic_prefix: 'forbidden' });
    const err = await c.write(makePoints(5, 'acl'), noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe('BIFROST_ERR_MQTT_NOT_AUTHORIZED');
    expect((err as AuthError).message).toMatch(/^broker rejected the message: .*0x87/);
  });

  it('publishes over WebSocket (ws://)', async () => {
    const sub = await subscribe(broker.url, 'it/ws/#');
    const c = await connector({ endpoint: `ws://127.0.0.1:${wsPort}`, topic_prefix: 'it/ws' });
    const points = makePoints(50, 'ws');
    await c.write(points, noCancel());
    const got = await sub.until(points.length);
    await sub.close();
    expect(got.map((m) => (m.payload as DataPoint).id).sort()).toEqual(points.map((p) => p.id).sort());
  });

  /** Publishes a few points and checks they arrive; returns nothing on success. */
  async function roundTrip(prefix: string, config: Record<string, unknown>, tlsMaterial?: TlsMaterial): Promise<void> {
    const sub = await subscribe(broker.url, `${prefix}/#`);
    const c = await connector({ topic_prefix: prefix, ...config }, tlsMaterial);
    const points = makePoints(30, prefix.replace(/\W/g, ''));
    await c.write(points, noCancel());
    const got = await sub.until(points.length);
    await sub.close();
    expect(got.map((m) => (m.payload as DataPoint).id).sort()).toEqual(points.map((p) => p.id).sort());
  }

  it('QoS 0 delivers on a healthy link', () => roundTrip('it/qos0', { qos: 0 }));

  it("accepts the seed's tcp:// and tls:// spellings", async () => {
    await roundTrip('it/tcp', { endpoint: broker.url.replace('mqtt://', 'tcp://') });
    await roundTrip('it/tls', { endpoint: broker.tlsUrl!.replace('mqtts://', 'tls://') }, tls.clientTls('tls'));
  });

  it('mTLS with a passphrase-protected client key and an explicit servername', async () => {
    const m = tls.clientTls('mtls');
    const passphrase = 'key-secret';
    const key = createPrivateKey(m.key!)
      .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase })
      .toString();
    const endpoint = broker.mtlsUrl!.replace('localhost', '127.0.0.1');
    await roundTrip('it/mtls', { endpoint }, { ...m, key, passphrase, servername: 'localhost' });
  });

  it('a persistent session with a fixed client id reconnects', async () => {
    const c = await connector({
      clean_session: false,
      client_id: 'bifrost-it-persistent',
      protocol_version: 5,
      topic_prefix: 'it/persist',
    });
    await c.connect();
    await expect(c.healthCheck()).resolves.toEqual({ ok: true });
    await c.write(makePoints(3, 'persist'), noCancel());
  });
});
