import { describe, expect, it } from 'vitest';
import { brokerUrlOf, maxInflightOf, mqttConfigSchema } from '../src/config.js';
import { expectReadmeOptionsTable, expectEveryOptionDescribed } from '@bifrost/connector-testkit';

describe('mqttConfigSchema', () => {
  it('accepts the seed 001 examples as written (endpoint flattened with provider_config)', () => {
    const local = mqttConfigSchema.parse({
      endpoint: 'tcp://localhost:1883',
      client_id: 'bifrost-gateway',
      qos: 1,
      topic_prefix: 'bifrost/industrial',
    });
    expect(local).toMatchObject({
      qos: 1,
      protocol_version: 4,
      payload_format: 'json',
      clean_session: true,
      retain: false,
    });
    const production = mqttConfigSchema.parse({
      endpoint: 'tls://mqtt.example.com:8883',
      client_id: 'bifrost-gateway-001',
      username: 'username',
      password: 'password',
      qos: 1,
      retain: false,
      topic_prefix: 'industrial',
      data_topic: 'telemetry',
      event_topic: 'events',
      alarm_topic: 'alarms',
    });
    expect(brokerUrlOf(production).protocol).toBe('tls:');
  });

  it('declares the seed key broker as an endpoint alias for the host to resolve', async () => {
    const { default: mqtt } = await import('../src/index.js');
    expect(mqtt.endpointAliases).toEqual(['broker']);
  });

  it('names the field at fault', () => {
    const bad = (input: unknown) => {
      const r = mqttConfigSchema.safeParse(input);
      expect(r.success).toBe(false);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(bad({})).toEqual([expect.stringMatching(/^endpoint: endpoint \(or provider_config.broker\) is required/)]);
    expect(bad({ endpoint: 'http://x' })[0]).toMatch(/^endpoint: endpoint must be a URL like mqtt:\/\//);
    expect(bad({ endpoint: 'mqtt://x', qos: 3 })[0]).toBe('qos: qos must be 0, 1 or 2');
    expect(bad({ endpoint: 'mqtt://x', clean_session: false })[0]).toMatch(
      /^client_id: client_id is required when clean_session is false/,
    );
    expect(bad({ endpoint: 'mqtt://x', brokr: 'mqtt://y' })[0]).toMatch(/Unrecognized key.*brokr/);
  });

  it('describes every field and marks the password as a secret', () => {
    expectEveryOptionDescribed(mqttConfigSchema, { secrets: ['password'] });
  });

  it('keeps QoS 2 over MQTT 3.1.1 within the in-flight limit brokers silently enforce', () => {
    expect(maxInflightOf(mqttConfigSchema.parse({ endpoint: 'mqtt://x' }))).toBe(1000);
    expect(maxInflightOf(mqttConfigSchema.parse({ endpoint: 'mqtt://x', qos: 2 }))).toBe(20);
    expect(maxInflightOf(mqttConfigSchema.parse({ endpoint: 'mqtt://x', qos: 2, protocol_version: 5 }))).toBe(1000);
    expect(maxInflightOf(mqttConfigSchema.parse({ endpoint: 'mqtt://x', qos: 2, max_inflight: 5 }))).toBe(5);
  });
});

describe('README', () => {
  it('carries the option table generated from the schema (`pnpm docs:tables`)', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), mqttConfigSchema);
  });
});
