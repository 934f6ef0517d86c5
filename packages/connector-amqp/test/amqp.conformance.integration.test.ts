import { connect, type ChannelModel } from 'amqplib';
import { type DataPoint, AuthError } from '@bifrost/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createConnector,
  createTlsFixture,
  describeConnector,
  expiredCert,
  makePoints,
  mtls,
  rabbitInstallation,
  requirePeer,
  runScenario,
  startRabbitMq,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type Collector,
  type ConnectorUnderTest,
  type RabbitPeer,
  type ReceivedPoint,
  type Scenario,
  type TlsFixture,
  noCancel,
} from '@bifrost/connector-testkit';
import amqp from '../src/index.js';

const rabbit = requirePeer('rabbitmq', rabbitInstallation);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

const EXCHANGE = 'conformance';

interface Peer {
  broker: RabbitPeer;
  tls: TlsFixture;
}

/**
 * Consumes a fresh durable queue bound to every routing key of the exchange, reconnecting through
 * broker restarts (the queue and its persistent messages survive them).
 */
async function collect(url: string): Promise<Collector> {
  const queue = `readback-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const received = new Map<string, ReceivedPoint>();
  let model: ChannelModel | undefined;
  let closed = false;
  const open = async (): Promise<void> => {
    const m = await connect(url);
    m.on('error', () => undefined);
    m.on('close', () => {
      if (!closed) void reopen();
    });
    const ch = await m.createChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    await ch.assertQueue(queue, { durable: true });
    await ch.bindQueue(queue, EXCHANGE, '#');
    await ch.consume(queue, (msg) => {
      if (!msg) return;
      const id = msg.properties.messageId as string;
      if (!received.has(id)) {
        const p = JSON.parse(msg.content.toString()) as DataPoint;
        received.set(id, {
          id,
          value: p.value,
          deviceId: p.deviceId,
          tagName: p.tagName,
          quality: p.quality,
          timestamp: p.timestamp,
        });
      }
      ch.ack(msg);
    });
    model = m;
  };
  const reopen = async (): Promise<void> => {
    while (!closed) {
      try {
        await open();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  await open();
  return {
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !ids.every((id) => received.has(id))) await new Promise((r) => setTimeout(r, 50));
      return new Map(ids.filter((id) => received.has(id)).map((id) => [id, received.get(id)!]));
    },
    async close() {
      closed = true;
      await model?.close().catch(() => undefined);
    },
  };
}

async function startPeer(requireClientCert: boolean): Promise<Peer> {
  const tls = createTlsFixture();
  const broker = await startRabbitMq({ tls: tls.serverTls(), requireClientCert });
  return { broker, tls };
}

async function disposePeer(p: Peer): Promise<void> {
  await p.broker.dispose();
  p.tls.dispose();
}

const config: ConnectorUnderTest<Peer>['config'] = ({ broker, tls }, variant) => {
  const base = { exchange: EXCHANGE, connect_timeout_ms: 2_000, heartbeat_s: 5 };
  const { username, password } = broker.user;
  const amqps = broker.tlsUrl?.replace(/\/\/[^@]*@/, '//');
  switch (variant.kind) {
    case 'plain':
      return { config: { ...base, endpoint: broker.url } };
    case 'tls':
      return { config: { ...base, endpoint: amqps, username, password }, tls: tls.clientTls('tls') };
    case 'mtls':
      return { config: { ...base, endpoint: amqps, username, password }, tls: tls.clientTls('mtls') };
    case 'expired-cert':
      return { config: { ...base, endpoint: amqps, username, password }, tls: tls.clientTls('expired-cert') };
    case 'bad-credentials':
      return { config: { ...base, endpoint: broker.url, password: `${password}-wrong` } };
    case 'untrusted-ca':
      return { config: { ...base, endpoint: amqps, username, password }, tls: tls.clientTls('untrusted-ca') };
    case 'proxied':
      return { config: { ...base, endpoint: `amqp://${variant.host}:${variant.port}`, username, password } };
    default:
      return undefined;
  }
};

describe.skipIf(!rabbit.available)('amqp', () =>
  describeConnector<Peer>({
    name: 'amqp on RabbitMQ',
    plugin: amqp,
    peer: () => startPeer(false),
    dispose: disposePeer,
    config,
    readBack: (p) => collect(p.broker.url),
    address: (p) => ({ host: p.broker.host, port: p.broker.ports.amqp }),
    ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
    restart: (p) => p.broker.restart(),
    async kill(p) {
      await p.broker.kill();
      await p.broker.start();
    },
    stop: (p) => p.broker.stop(),
    start: (p) => p.broker.start(),
    // A routing key longer than AMQP's 255-byte limit can never be published.
    poison: () => ({
      id: `poison-${Date.now()}`,
      deviceId: 'd'.repeat(300),
      tagName: 'temperature',
      value: 1,
      quality: 'GOOD',
      timestamp: Date.now(),
    }),
  }),
);

/** The suite's 'tls' variant (server verified, no client certificate) against a broker that requires one. */
const refusedWithoutClientCert: Scenario = {
  name: 'no-client-cert-refused',
  description: 'a TLS client without a certificate is refused with AuthError naming the certificate',
  timeoutMs: 30_000,
  async run(ctx) {
    const connector = createConnector(ctx, { kind: 'tls' });
    const err = await connector
      .connect()
      .then(() => connector.write(makePoints(1, 'no-client-cert'), noCancel()))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err, `AuthError, got ${String(err)}`).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toMatch(/certificate/i);
  },
};

// RabbitMQ's TLS settings are node-wide, so a broker that refuses clients without a certificate
// cannot also serve the suite's server-only 'tls' scenario: it gets a broker of its own.
describe.skipIf(!rabbit.available)('amqp on a RabbitMQ that requires client certificates', () => {
  let peer: Peer | undefined;
  const target: ConnectorUnderTest<Peer> = {
    name: 'amqp on RabbitMQ (client certificate required)',
    plugin: amqp,
    peer: () => startPeer(true),
    dispose: disposePeer,
    config,
    readBack: (p) => collect(p.broker.url),
  };
  beforeAll(async () => {
    peer = await target.peer();
  }, 120_000);
  afterAll(async () => {
    if (peer) await target.dispose(peer);
  });

  for (const scenario of [mtls, expiredCert]) {
    it(
      scenario.name,
      (t) => runScenario(scenario, target, peer!, { skip: (reason) => t.skip(reason) }),
      scenario.timeoutMs,
    );
  }

  it(
    refusedWithoutClientCert.name,
    () => runScenario(refusedWithoutClientCert, target, peer!),
    refusedWithoutClientCert.timeoutMs,
  );
});
