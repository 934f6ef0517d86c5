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
import { connect } from 'mqtt';
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
 * the TLS-without-client-certificate variant and a plain (readable) wire do not exist.
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
      // No plain wire to read a marker from (poison-after-send): AWS IoT only speaks TLS.
      if (v.plainWire) return undefined;
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

/**
 * A subscriber on the broker's plain listener (mqtt.js, QoS 1, persistent session, reconnecting on
 * its own so broker restarts lose nothing), parsing point and batch messages. Not the AWS client:
 * aws-crt 1.33.1 hands a received payload to JS on a later tick, and one payload in 100,000 came
 * out corrupted in a test run; the connector itself only receives small shadow responses.
 */
export async function readBack(p: MosquittoPeer, topicFilter: string): Promise<Collector & { topics: string[] }> {
  const received = new Map<string, ReceivedPoint>();
  const topics: string[] = [];
  const client = connect(p.url, {
    protocolVersion: 5,
    clientId: `reader-${randomBytes(4).toString('hex')}`,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 100,
    connectTimeout: 5_000,
  });
  client.on('error', () => undefined);
  client.on('message', (topic, payload) => {
    topics.push(topic);
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    for (const point of (Array.isArray(parsed) ? parsed : [parsed]) as ReceivedPoint[])
      if (!received.has(point.id)) received.set(point.id, point);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topicFilter, { qos: 1 });
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
    async close() {
      await client.unsubscribeAsync(topicFilter).catch(() => undefined);
      await client.endAsync(true);
    },
  };
}
