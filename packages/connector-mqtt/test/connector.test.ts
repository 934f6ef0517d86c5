import { ConfigError, TransientError, type DataPoint, type PluginContext } from '@bifrost/core';
import { EventEmitter } from 'node:events';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { mqttConfigSchema } from '../src/config.js';
import { MqttConnector, clientOptions, defaultClientId } from '../src/connector.js';
import mqtt from '../src/index.js';
import { silentLogger } from '@bifrost/connector-testkit';

const ctx = (over: Partial<PluginContext> = {}): PluginContext => ({
  name: 'plant-a',
  logger: silentLogger,
  signal: new AbortController().signal,
  ...over,
});
const cfg = (over: Record<string, unknown> = {}) => mqttConfigSchema.parse({ endpoint: 'mqtt://127.0.0.1:1', ...over });

describe('mqtt plugin definition', () => {
  it('is a branded connector of type mqtt', () => {
    expect(mqtt.type).toBe('mqtt');
    expect(mqtt.capabilities.maxBatch).toBeGreaterThan(0);
    expect(mqtt.create(cfg(), ctx())).toBeInstanceOf(MqttConnector);
  });
});

describe('clientOptions', () => {
  it('disables mqtt.js reconnects and maps session, auth and TLS settings', () => {
    const tls = {
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      passphrase: 'pw',
      servername: 'broker.local',
      rejectUnauthorized: true,
    };
    const o = clientOptions(
      cfg({
        username: 'u',
        password: 'p',
        protocol_version: 5,
        clean_session: false,
        client_id: 'gw1',
        keepalive_s: 7,
      }),
      { tls },
      'gw1',
    );
    expect(o).toMatchObject({
      clientId: 'gw1',
      username: 'u',
      password: 'p',
      protocolVersion: 5,
      clean: false,
      keepalive: 7,
      reconnectPeriod: 0,
      ca: 'CA',
      cert: 'CERT',
      key: 'KEY',
      passphrase: 'pw',
      servername: 'broker.local',
      rejectUnauthorized: true,
      properties: { sessionExpiryInterval: 86_400 },
    });
  });

  it('omits what is not configured', () => {
    const o = clientOptions(cfg(), {}, 'x');
    expect(o).not.toHaveProperty('username');
    expect(o).not.toHaveProperty('ca');
    expect(o).not.toHaveProperty('properties');
  });
});

describe('MqttConnector', () => {
  it('refuses TLS material with a plain mqtt:// URL', () => {
    expect(() => new MqttConnector(cfg(), ctx({ tls: { rejectUnauthorized: true } }))).toThrow(ConfigError);
    expect(
      () => new MqttConnector(cfg({ endpoint: 'mqtts://h:8883' }), ctx({ tls: { rejectUnauthorized: true } })),
    ).not.toThrow();
  });

  it('refuses an unknown topic placeholder at create time, unprefixed (the host prefixes once)', () => {
    expect(() => new MqttConnector(cfg({ topic: '{nope}' }), ctx())).toThrow(/^topic: unknown placeholder/);
  });

  it('reports unhealthy and refuses writes before connect', async () => {
    const c = new MqttConnector(cfg(), ctx());
    await expect(c.healthCheck()).resolves.toEqual({ ok: false, detail: 'not connected' });
    await expect(c.write([], { signal: new AbortController().signal })).rejects.toBeInstanceOf(TransientError);
    await c.close();
    await c.close();
  });

  it('a connection test (ctx.probe) connects with a client id of its own and a clean session', () => {
    const persistent = cfg({ client_id: 'line-7', clean_session: false });
    const running = new MqttConnector(persistent, ctx()) as unknown as { clientId: string };
    const probe = new MqttConnector(persistent, ctx({ probe: true })) as unknown as { clientId: string };
    expect(running.clientId).toBe('line-7');
    expect(probe.clientId).toMatch(/^bifrost-planta-[0-9a-f]{8}$/);
  });

  it('default client ids fit the 23 characters every 3.1.1 broker accepts and differ per instance', () => {
    const a = defaultClientId('a very long connector name!');
    expect(a).toMatch(/^bifrost-averyl-[0-9a-f]{8}$/);
    expect(a.length).toBeLessThanOrEqual(23);
    expect(defaultClientId('x')).not.toBe(defaultClientId('x'));
  });
});

/** A connected mqtt.js stand-in: records publishes (the test acks them) and whether it was ended. */
function fakeClient() {
  const replies: Array<(err?: Error) => void> = [];
  const client = Object.assign(new EventEmitter(), {
    connected: true,
    ended: false,
    publish(_topic: string, _payload: string, _opts: unknown, cb: (err?: Error) => void) {
      replies.push(cb);
      return client;
    },
    end() {
      client.ended = true;
      client.connected = false;
      return client;
    },
    async endAsync() {
      client.end();
    },
  });
  return { client, replies };
}

/** A connector wired to a fake client, as if connect() had succeeded. */
function connectedTo(client: ReturnType<typeof fakeClient>['client']): MqttConnector {
  const c = new MqttConnector(cfg(), ctx());
  (c as unknown as { client: MqttClient }).client = client as unknown as MqttClient;
  (c as unknown as { watch(client: MqttClient): void }).watch(client as unknown as MqttClient);
  return c;
}

const point = (i: number): DataPoint => ({
  id: `p${i}`,
  deviceId: 'd',
  tagName: 't',
  value: i,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
});

describe('MqttConnector.write and its signal', () => {
  it('throws at once, publishing nothing, when the signal is already aborted', async () => {
    const { client, replies } = fakeClient();
    const c = connectedTo(client);
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(c.write([point(1)], { signal: ac.signal })).rejects.toBeInstanceOf(TransientError);
    expect(replies).toHaveLength(0);
    expect(client.ended).toBe(false);
  });

  it('rejects promptly when aborted while the broker is silent, ends the client and takes no late PUBACK', async () => {
    const { client, replies } = fakeClient();
    const c = connectedTo(client);
    const ac = new AbortController();
    const write = c.write([point(1), point(2)], { signal: ac.signal });
    expect(replies).toHaveLength(2);
    replies[0]!();
    ac.abort(new Error('timeout'));
    const err = await write.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).message).not.toMatch(/^\[bifrost\]/);
    expect(client.ended).toBe(true);
    // The late acknowledgement changes nothing: the write already failed, the connection is gone.
    replies[1]!();
    await expect(c.healthCheck()).resolves.toMatchObject({ ok: false });
    await expect(c.write([point(3)], { signal: new AbortController().signal })).rejects.toBeInstanceOf(TransientError);
  });

  it('aborted while the broker still answers: rejects promptly, ignores the late PUBACK, keeps the connection', async () => {
    const { client, replies } = fakeClient();
    const c = connectedTo(client);
    const ac = new AbortController();
    const write = c.write([point(1), point(2)], { signal: ac.signal });
    client.emit('packetreceive', { cmd: 'puback' });
    replies[0]!();
    ac.abort(new Error('timeout'));
    await expect(write).rejects.toBeInstanceOf(TransientError);
    expect(client.ended).toBe(false);
    // The late PUBACK of the cancelled write settles nothing; the next write goes out on the same client.
    replies[1]!();
    const next = c.write([point(3)], { signal: new AbortController().signal });
    expect(replies).toHaveLength(3);
    replies[2]!();
    await expect(next).resolves.toMatchObject({ bytes: expect.any(Number) as unknown });
  });

  it('resolves when every message is acknowledged before any abort', async () => {
    const { client, replies } = fakeClient();
    const c = connectedTo(client);
    const ac = new AbortController();
    const write = c.write([point(1)], { signal: ac.signal });
    replies[0]!();
    await expect(write).resolves.toMatchObject({ bytes: expect.any(Number) as unknown });
    ac.abort();
    expect(client.ended).toBe(false);
  });
});
