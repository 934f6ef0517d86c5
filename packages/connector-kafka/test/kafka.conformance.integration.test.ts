import kafkajs from 'kafkajs';
import type { DataPoint } from '@bifrost/core';
import { describe } from 'vitest';
import {
  createKafkaTopic,
  createTlsFixture,
  describeConnector,
  kafkaInstallation,
  requirePeer,
  startKafka,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type Collector,
  type KafkaPeer,
  type ReceivedPoint,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import kafka, { ID_HEADER } from '../src/index.js';

const kafkaPeer = requirePeer('kafka', kafkaInstallation);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

const TOPIC = 'conformance';

interface Peer {
  broker: KafkaPeer;
  tls: TlsFixture;
}

let broker: KafkaPeer | undefined;

/**
 * Toxiproxy in front of the broker's `proxied` listener. The proxy must listen where the broker
 * advertises that listener: Kafka clients reconnect to the advertised address after bootstrap.
 */
const kafkaFaultProxy = toxiproxyFaultProxy(undefined, { listen: () => broker!.proxied!.advertised });

/**
 * Collects every record of the conformance topic from the start, by the `bifrost-id` header. The
 * consumer keeps retrying through broker outages (the down-then-up scenario stops the broker).
 */
async function collect(bootstrap: string): Promise<Collector> {
  const client = new kafkajs.Kafka({
    brokers: [bootstrap],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: {
      retries: 10_000,
      initialRetryTime: 200,
      maxRetryTime: 1_000,
      restartOnFailure: () => Promise.resolve(true),
    },
  });
  const consumer = client.consumer({ groupId: `readback-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 100 });
  const received = new Map<string, ReceivedPoint>();
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const id = message.headers?.[ID_HEADER]?.toString();
      if (!id || received.has(id)) return Promise.resolve();
      const p = JSON.parse(message.value!.toString()) as DataPoint;
      received.set(id, {
        id,
        value: p.value,
        deviceId: p.deviceId,
        tagName: p.tagName,
        quality: p.quality,
        timestamp: p.timestamp,
      });
      return Promise.resolve();
    },
  });
  return {
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !ids.every((id) => received.has(id))) await new Promise((r) => setTimeout(r, 50));
      return new Map(ids.filter((id) => received.has(id)).map((id) => [id, received.get(id)!]));
    },
    close: () => consumer.disconnect(),
  };
}

describe.skipIf(!kafkaPeer.available)('kafka', () =>
  describeConnector<Peer>({
    name: 'kafka on a KRaft broker',
    plugin: kafka,
    async peer() {
      const tls = createTlsFixture();
      broker = await startKafka({ tls: tls.serverTls(), proxied: true });
      await createKafkaTopic(broker.bootstrap, TOPIC, { partitions: 3 });
      return { broker, tls };
    },
    async dispose(p) {
      await p.broker.dispose();
      p.tls.dispose();
    },
    config({ broker, tls }, variant) {
      const [user] = broker.users;
      if (!user) throw new Error('the broker peer has no SASL user');
      const base = { topic: TOPIC, request_timeout_ms: 1_500, connection_timeout_ms: 1_000 };
      const sasl = { endpoint: broker.saslSslBootstrap, sasl_mechanism: 'scram-sha-256', username: user.username };
      switch (variant.kind) {
        case 'plain':
          return { config: { ...base, endpoint: broker.bootstrap } };
        case 'tls':
          return { config: { ...base, ...sasl, password: user.password }, tls: tls.clientTls('tls') };
        case 'mtls':
          return { config: { ...base, endpoint: broker.mtlsBootstrap }, tls: tls.clientTls('mtls') };
        case 'bad-credentials':
          return { config: { ...base, ...sasl, password: `${user.password}-wrong` }, tls: tls.clientTls('tls') };
        case 'untrusted-ca':
          return { config: { ...base, ...sasl, password: user.password }, tls: tls.clientTls('untrusted-ca') };
        case 'expired-cert':
          return { config: { ...base, endpoint: broker.mtlsBootstrap }, tls: tls.clientTls('expired-cert') };
        case 'proxied':
          // plainWire: the poison-after-send scenario reads the records on the wire; compression hides them.
          return {
            config: {
              ...base,
              endpoint: `${variant.host}:${variant.port}`,
              ...(variant.plainWire && { compression: 'none' }),
            },
          };
        default:
          return undefined;
      }
    },
    readBack: (p) => collect(p.broker.bootstrap),
    address: (p) => p.broker.proxied!.upstream,
    ...(toxiproxy.available && { faultProxy: kafkaFaultProxy }),
    restart: (p) => p.broker.restart(),
    async kill(p) {
      await p.broker.kill();
      await p.broker.start();
    },
    stop: (p) => p.broker.stop(),
    start: (p) => p.broker.start(),
    poison: () => ({
      id: `poison-${Date.now()}`,
      deviceId: 'conf-poison',
      tagName: 'blob',
      value: 'x'.repeat(1_100_000),
      quality: 'GOOD',
      timestamp: Date.now(),
    }),
  }),
);
