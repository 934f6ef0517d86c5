import { afterAll } from 'vitest';
import { createTlsFixture, describeConnector, makePoints, requirePeer, toxiproxyBinary, toxiproxyFaultProxy } from '@bifrost/connector-testkit';
import mqtt from '../src/index.js';
import { startAedes, type AedesPeer } from './support/aedes-peer.js';
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
    const base = { username: p.username, password: p.password, topic_prefix: TOPIC_PREFIX, max_packet_size: MAX_PACKET };
    switch (v.kind) {
      case 'plain': return { config: { ...base, endpoint: p.url } };
      case 'bad-credentials': return { config: { ...base, endpoint: p.url, password: 'wrong' } };
      case 'proxied': return { config: { ...base, endpoint: `mqtt://${v.host}:${v.port}` } };
      case 'tls': return { config: { ...base, endpoint: p.tlsUrl }, tls: tls.clientTls('tls') };
      case 'mtls': return { config: { ...base, endpoint: p.mtlsUrl }, tls: tls.clientTls('mtls') };
      case 'untrusted-ca': return { config: { ...base, endpoint: p.tlsUrl }, tls: tls.clientTls('untrusted-ca') };
      case 'expired-cert': return { config: { ...base, endpoint: p.mtlsUrl }, tls: tls.clientTls('expired-cert') };
    }
  },
  readBack: (p) => mqttCollector(p.url, `${TOPIC_PREFIX}/#`, { username: p.username, password: p.password }),
  address: (p) => ({ host: '127.0.0.1', port: p.port }),
  ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
  restart: (p) => p.restart(),
  stop: (p) => p.stop(),
  start: (p) => p.start(),
  poison: () => ({ ...makePoints(1, 'poison')[0]!, value: 'x'.repeat(MAX_PACKET * 2) }),
});
