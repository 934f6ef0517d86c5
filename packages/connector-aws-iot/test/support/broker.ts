import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import {
  createTlsFixture,
  mosquittoBinary,
  requirePeer,
  startMosquitto,
  type Collector,
  type ConnectionVariant,
  type ConnectorSetup,
  type MosquittoPeer,
  type ReceivedPoint,
} from '@bifrost/connector-testkit';
import { mqtt5 } from 'aws-iot-device-sdk-v2';
import { AWS_IOT_LIMITS } from '../../src/index.js';

export const mosquitto = requirePeer('mosquitto', mosquittoBinary);
export const tls = createTlsFixture();
afterAll(() => tls.dispose());

/** AWS IoT's 128 KB payload limit plus room for a 256-byte topic and the packet framing. */
export const MAX_PACKET = AWS_IOT_LIMITS.payloadBytes + 512;

/** Mosquitto as the stand-in for AWS IoT Core: MQTT 5, the mTLS listener, AWS's packet size and Receive Maximum. */
export function startBroker(conf: readonly string[] = []): Promise<MosquittoPeer> {
  return startMosquitto({
    tls: tls.serverTls(),
    maxPacketSize: MAX_PACKET,
    maxInflight: AWS_IOT_LIMITS.inflight,
    conf,
  });
}

/** The mTLS listener's port. */
export function mtlsPort(p: MosquittoPeer): number {
  return p.ports.mqttsMutual;
}

/**
 * The connector setup of each conformance variant: AWS IoT only speaks mTLS, so the plain and
 * proxied variants are mTLS too, bad credentials is a certificate the broker does not know, and
 * the TLS-without-client-certificate variant does not exist.
 */
export function variantSetup(
  p: MosquittoPeer,
  v: ConnectionVariant,
  base: Record<string, unknown>,
): ConnectorSetup | undefined {
  const config = (port: number) => ({ ...base, endpoint: 'localhost', port });
  switch (v.kind) {
    case 'plain':
    case 'mtls':
      return { config: config(mtlsPort(p)), tls: tls.clientTls('mtls') };
    case 'proxied':
      return { config: config(v.port), tls: tls.clientTls('mtls') };
    case 'bad-credentials':
      return { config: config(mtlsPort(p)), tls: tls.clientTls('foreign-cert') };
    case 'untrusted-ca':
      return {
        config: config(mtlsPort(p)),
        tls: { ...tls.clientTls('untrusted-ca'), cert: tls.client.cert, key: tls.client.key },
      };
    case 'expired-cert':
      return { config: config(mtlsPort(p)), tls: tls.clientTls('expired-cert') };
    case 'tls':
      return undefined;
  }
}

/** A subscriber on the broker's plain listener (the unmodified AWS client), parsing point and batch messages. */
export async function crtCollector(p: MosquittoPeer, topicFilter: string): Promise<Collector & { topics: string[] }> {
  const received = new Map<string, ReceivedPoint>();
  const topics: string[] = [];
  const client = new mqtt5.Mqtt5Client({
    hostName: '127.0.0.1',
    port: p.ports.mqtt,
    connectProperties: {
      clientId: `reader-${randomBytes(4).toString('hex')}`,
      keepAliveIntervalSeconds: 30,
      sessionExpiryIntervalSeconds: 600,
    },
    sessionBehavior: mqtt5.ClientSessionBehavior.RejoinAlways,
    minReconnectDelayMs: 100,
    maxReconnectDelayMs: 500,
  });
  client.on('messageReceived', (e) => {
    topics.push(e.message.topicName);
    const text = Buffer.from(e.message.payload as ArrayBuffer).toString('utf8');
    const parsed: unknown = JSON.parse(text);
    for (const point of (Array.isArray(parsed) ? parsed : [parsed]) as ReceivedPoint[])
      if (!received.has(point.id)) received.set(point.id, point);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connectionSuccess', () => resolve());
    client.once('connectionFailure', (e: mqtt5.ConnectionFailureEvent) =>
      reject(new Error(`reader could not connect: ${e.error.error_name}`)),
    );
    client.start();
  });
  await client.subscribe({ subscriptions: [{ topicFilter, qos: mqtt5.QoS.AtLeastOnce }] });
  return {
    topics,
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (ids.some((id) => !received.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const out = new Map<string, ReceivedPoint>();
      for (const id of ids) {
        const point = received.get(id);
        if (point) out.set(id, point);
      }
      return out;
    },
    close() {
      client.stop();
      client.close();
      return Promise.resolve();
    },
  };
}
