import { EventEmitter } from 'node:events';
import type * as SdkModule from 'aws-iot-device-sdk-v2';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { newPointId, type DataPoint } from '@bifrost/core';
import { createTlsFixture, noCancel } from '@bifrost/connector-testkit';
import { MAX_BATCH_BYTES } from '../src/index.js';
import { makeConnector, recordingLogger } from './support/connector.js';

/** A stand-in for the SDK's Mqtt5Client: the test drives its events and PUBACKs. */
class FakeClient extends EventEmitter {
  static last: FakeClient | undefined;
  static onStart: (c: FakeClient) => void = (c) => c.succeed();
  pubackCode = 0;
  /** Completes publishes without a PUBACK packet, as the SDK does for QoS 0. */
  noPuback = false;
  published: Array<{ topicName: string }> = [];
  constructor(readonly config: unknown) {
    super();
    FakeClient.last = this;
  }
  start() {
    queueMicrotask(() => FakeClient.onStart(this));
  }
  stop() {}
  close() {}
  succeed() {
    this.emit('connectionSuccess', {
      connack: {},
      settings: { receiveMaximumFromServer: 100, rejoinedSession: false },
    });
  }
  publish(packet: { topicName: string }) {
    this.published.push(packet);
    return Promise.resolve(this.noPuback ? undefined : { type: 4, reasonCode: this.pubackCode });
  }
}

vi.mock('aws-iot-device-sdk-v2', async (importOriginal) => {
  const real = await importOriginal<typeof SdkModule>();
  return { ...real, mqtt5: { ...real.mqtt5, Mqtt5Client: FakeClient } };
});

const fixture = createTlsFixture();
afterAll(() => fixture.dispose());
const tls = fixture.clientTls('mtls');
const config = {
  endpoint: 'abc-ats.iot.us-east-1.amazonaws.com',
  thing_name: 'gw-7',
  max_publish_rate: 1e6,
};

function point(): DataPoint {
  return { id: newPointId(), deviceId: 'PLC1', tagName: 't', value: 1, quality: 'GOOD', timestamp: 1 };
}

describe('AwsIotConnector (SDK client faked)', () => {
  it('needs the device certificate: a config error naming the TLS files', async () => {
    const c = makeConnector(config, { rejectUnauthorized: true });
    await expect(c.connect()).rejects.toMatchObject({
      kind: 'config',
      message: expect.stringMatching(/cert_file/) as string,
    });
  });

  it('cuts batches by bytes only in batch mode, where a batch is one message', () => {
    expect(makeConnector({ ...config, messages: 'batch' }, tls).maxBatchBytes).toBe(MAX_BATCH_BYTES);
    expect(makeConnector(config, tls).maxBatchBytes).toBeUndefined();
  });

  it('defaults client_id to thing_name', async () => {
    const c = makeConnector(config, tls);
    await c.connect();
    expect(FakeClient.last?.config).toMatchObject({
      connectProperties: { clientId: 'gw-7', sessionExpiryIntervalSeconds: 3600 },
    });
    await c.close();
  });

  it('CONNACK not authorized is an auth error', async () => {
    FakeClient.onStart = (client) =>
      client.emit('connectionFailure', {
        error: { error_name: 'AWS_ERROR_MQTT5_CONNACK_CONNECTION_REFUSED' },
        connack: { reasonCode: 0x87 },
      });
    try {
      await expect(makeConnector(config, tls).connect()).rejects.toMatchObject({
        kind: 'auth',
        code: 'BIFROST_ERR_AWS_IOT_NOT_AUTHORIZED',
      });
    } finally {
      FakeClient.onStart = (c) => c.succeed();
    }
  });

  it('logs a session taken over (DISCONNECT 0x8E) with the client id', async () => {
    const logger = recordingLogger();
    const c = makeConnector({ ...config, client_id: 'shared-id' }, tls, logger);
    await c.connect();
    FakeClient.last!.emit('disconnection', {
      error: { error_name: 'AWS_ERROR_MQTT5_DISCONNECT_RECEIVED' },
      disconnect: { reasonCode: 0x8e },
    });
    const warn = logger.lines.find((l) => l.level === 'warn' && /same client id "shared-id"/.test(l.msg ?? ''));
    expect(warn?.obj).toEqual({ clientId: 'shared-id' });
    expect((await c.healthCheck()).ok).toBe(false);
    await expect(c.write([point()], noCancel())).rejects.toMatchObject({
      code: 'BIFROST_ERR_AWS_IOT_SESSION_TAKEN_OVER',
    });
    await c.close();
  });

  it('PUBACK quota exceeded fails the write as capacity; packet too large dead-letters the point', async () => {
    const c = makeConnector(config, tls);
    await c.connect();
    FakeClient.last!.pubackCode = 0x97;
    await expect(c.write([point()], noCancel())).rejects.toMatchObject({ kind: 'capacity' });
    FakeClient.last!.pubackCode = 0x95;
    const p = point();
    await expect(c.write([p], noCancel())).rejects.toMatchObject({
      kind: 'partial',
      accepted: [],
      rejected: [{ id: p.id, kind: 'payload' }],
    });
    await c.close();
  });

  it('a QoS 1 publish completed without a PUBACK fails the write (sent again), never counts as delivered', async () => {
    const c = makeConnector(config, tls);
    await c.connect();
    FakeClient.last!.noPuback = true;
    await expect(c.write([point()], noCancel())).rejects.toMatchObject({
      kind: 'transient',
      code: 'BIFROST_ERR_AWS_IOT_NO_PUBACK',
    });
    await c.close();
    const qos0 = makeConnector({ ...config, qos: 0 }, tls);
    await qos0.connect();
    FakeClient.last!.noPuback = true;
    await expect(qos0.write([point()], noCancel())).resolves.toMatchObject({ bytes: expect.any(Number) as number });
    await qos0.close();
  });

  it('a write whose client goes away while messages wait for the rate limiter fails; it never counts unsent points', async () => {
    const c = makeConnector({ ...config, max_publish_rate: 1 }, tls);
    await c.connect();
    const fake = FakeClient.last!;
    const write = c.write([point(), point(), point()], noCancel());
    for (const until = Date.now() + 2000; fake.published.length === 0 && Date.now() < until;)
      await new Promise((r) => setTimeout(r, 5));
    await c.close();
    await expect(write).rejects.toMatchObject({ kind: 'transient', code: 'BIFROST_ERR_AWS_IOT_CONNECTION_LOST' });
    expect(fake.published.length).toBeLessThan(3);
  });

  it('unreadable certificate material is a config error', async () => {
    await expect(makeConnector(config, { ...tls, cert: 'not a certificate' }).connect()).rejects.toMatchObject({
      kind: 'config',
      code: 'BIFROST_ERR_AWS_IOT_TLS_MATERIAL',
    });
  });

  it('a rotated certificate builds a new client on the next connect', async () => {
    const material = { ...tls };
    const c = makeConnector(config, material);
    await c.connect();
    const first = FakeClient.last;
    first!.emit('disconnection', { error: { error_name: 'AWS_ERROR_MQTT_UNEXPECTED_HANGUP' } });
    material.cert = fixture.expiredClient.cert;
    await c.connect();
    expect(FakeClient.last).not.toBe(first);
    expect(FakeClient.last?.config).toBeDefined();
    await c.close();
  });
});
