import { ConfigError, TransientError, type PluginContext } from '@bifrost/core';
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

  it('refuses an unknown topic placeholder at create time with the connector prefix', () => {
    expect(() => new MqttConnector(cfg({ topic: '{nope}' }), ctx())).toThrow(
      /^\[bifrost\] \[mqtt:plant-a\] topic: unknown placeholder/,
    );
  });

  it('reports unhealthy and refuses writes before connect', async () => {
    const c = new MqttConnector(cfg(), ctx());
    await expect(c.healthCheck()).resolves.toEqual({ ok: false, detail: 'not connected' });
    await expect(c.write([])).rejects.toBeInstanceOf(TransientError);
    await c.close();
    await c.close();
  });

  it('default client ids fit the 23 characters every 3.1.1 broker accepts and differ per instance', () => {
    const a = defaultClientId('a very long connector name!');
    expect(a).toMatch(/^bifrost-averyl-[0-9a-f]{8}$/);
    expect(a.length).toBeLessThanOrEqual(23);
    expect(defaultClientId('x')).not.toBe(defaultClientId('x'));
  });
});
