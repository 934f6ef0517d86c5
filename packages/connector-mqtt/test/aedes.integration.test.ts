import { afterAll } from 'vitest';
import {
  createTlsFixture,
  describeConnector,
  makePoint,
  requirePeer,
  toxiproxyBinary,
  toxiproxyFaultProxy,
} from '@bifrost/connector-testkit';
import mqtt from '../src/index.js';
import { startAedes, type AedesPeer } from './support/aedes-peer.js';
import { brokerVariant } from './support/broker-variants.js';
import { mqttCollector } from './support/mqtt-collector.js';

const TOPIC_PREFIX = 'conf';
/** aedes announces no packet limit (MQTT 3.1.1), so the connector's own `max_packet_size` is what makes the poison point poison. */
const MAX_PACKET = 16_384;
const tls = createTlsFixture();
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);
afterAll(() => tls.dispose());

describeConnector<AedesPeer>({
  name: 'mqtt 3.1.1 on aedes (in-process)',
  plugin: mqtt,
  peer: () => startAedes(tls.serverTls()),
  dispose: (p) => p.dispose(),
  config: (p, v) => {
    const base = {
      username: p.username,
      password: p.password,
      topic_prefix: TOPIC_PREFIX,
      max_packet_size: MAX_PACKET,
    };
    return brokerVariant(p, v, base, tls);
  },
  readBack: (p) => mqttCollector(p.url, `${TOPIC_PREFIX}/#`, { username: p.username, password: p.password }),
  address: (p) => ({ host: '127.0.0.1', port: p.port }),
  ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
  restart: (p) => p.restart(),
  stop: (p) => p.stop(),
  start: (p) => p.start(),
  poison: () => ({ ...makePoint('poison'), value: 'x'.repeat(MAX_PACKET * 2) }),
});
