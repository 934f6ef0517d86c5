import { afterAll } from 'vitest';
import {
  createTlsFixture,
  describeConnector,
  makePoint,
  mosquittoBinary,
  requirePeer,
  startMosquitto,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type ConnectorSetup,
  type ConnectorUnderTest,
  type ConnectionVariant,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import mqtt from '../src/index.js';
import { brokerVariant } from './support/broker-variants.js';
import { mqttCollector } from './support/mqtt-collector.js';

const mosquitto = requirePeer('mosquitto', mosquittoBinary);
const tls = createTlsFixture();
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);
afterAll(() => tls.dispose());

const TOPIC_PREFIX = 'conf';
const USER = { username: 'bifrost', password: 'conformance-secret' };
/** The broker's `max_packet_size`: MQTT 5 clients learn it from the CONNACK, 3.1.1 clients must be told. */
const MAX_PACKET = 16_384;

function startBroker(extraConf: readonly string[] = []): Promise<MosquittoPeer> {
  return startMosquitto({
    tls: tls.serverTls(),
    users: [USER],
    // No cap on what the broker queues for the persistent read-back session while it is offline.
    conf: [`max_packet_size ${MAX_PACKET}`, 'max_queued_messages 0', ...extraConf],
  });
}

/**
 * Mosquitto acknowledges a QoS 1 PUBLISH from memory and writes its persistence file only every
 * `autosave_interval`: SIGKILL loses what it acknowledged since (and the read-back session with
 * it). The kill scenario therefore runs on a broker that saves after every change, as a deployment
 * that must survive broker crashes is configured; the other scenarios keep the faster default.
 */
const SAVE_EVERY_CHANGE = ['autosave_on_changes true', 'autosave_interval 1'];

function setup(protocol: 4 | 5) {
  return (p: MosquittoPeer, v: ConnectionVariant): ConnectorSetup | undefined => {
    const base = {
      ...USER,
      topic_prefix: TOPIC_PREFIX,
      protocol_version: protocol,
      // 3.1.1 has no way to learn the broker's limit; Mosquitto would drop the connection instead of refusing the message.
      ...(protocol === 4 ? { max_packet_size: MAX_PACKET } : {}),
    };
    return brokerVariant(p, v, base, tls);
  };
}

for (const protocol of [4, 5] as const) {
  const target = {
    name: `mqtt ${protocol === 4 ? '3.1.1' : '5'} on mosquitto`,
    requires: mosquitto,
    plugin: mqtt,
    peer: () => startBroker(),
    dispose: (p) => p.dispose(),
    config: setup(protocol),
    readBack: (p) => mqttCollector(p.url, `${TOPIC_PREFIX}/#`, { ...USER, protocolVersion: protocol }),
    address: (p) => ({ host: p.host, port: p.ports.mqtt }),
    ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
    restart: (p) => p.restart(),
    stop: (p) => p.stop(),
    start: (p) => p.start(),
    poison: () => ({ ...makePoint('poison'), value: 'x'.repeat(MAX_PACKET * 2) }),
  } satisfies ConnectorUnderTest<MosquittoPeer>;
  describeConnector<MosquittoPeer>(target);
  describeConnector<MosquittoPeer>({
    ...target,
    name: `${target.name} saving every change`,
    peer: () => startBroker(SAVE_EVERY_CHANGE),
    kill: async (p) => {
      await p.kill();
      await p.start();
    },
    scenarios: ['peer-killed-mid-stream'],
    // A broker writing its store on every change acknowledges a 1,000-message batch in 2.5-5 s on a
    // loaded 2-core machine. Since writes honour their signal, a write past the timeout is cancelled
    // and resent instead of being taken late within the grace period, so give it the time it needs.
    delivery: { timeoutMs: 15_000 },
  });
}
