// The Bifrost conformance suite against the stand-in receiver of local-peer.ts: every scenario the
// connector offers, driven directly and through the real delivery pipeline and durable queue.
import { describeConnector, faultProxyFactory, makePoints } from '@bifrost/connector-testkit';
import plugin from '../src/index.js';
import { startLocalPeer, type LocalPeer } from './local-peer.js';

describeConnector<LocalPeer>({
  name: '__TYPE__ on a local receiver',
  plugin,
  peer: () => startLocalPeer(),
  dispose: (p) => p.dispose(),
  // The config as a user writes it; undefined for a variant this connector does not offer (its
  // scenarios are reported as skipped). Add 'tls' / 'mtls' once your peer serves TLS.
  config: (p, v) => {
    switch (v.kind) {
      case 'plain':
        return { config: { endpoint: p.url, token: p.token } };
      case 'bad-credentials':
        return { config: { endpoint: p.url, token: 'wrong' } };
      case 'proxied':
        return { config: { endpoint: `http://${v.host}:${v.port}`, token: p.token } };
      default:
        return undefined;
    }
  },
  readBack: (p) => p.collector(),
  address: (p) => ({ host: '127.0.0.1', port: p.port }),
  // The testkit's fault proxy: Toxiproxy when installed, else node:net in the test process.
  faultProxy: faultProxyFactory(),
  restart: (p) => p.restart(),
  stop: (p) => p.stop(),
  start: (p) => p.start(),
  kill: async (p) => {
    await p.kill();
    await p.start();
  },
  // A point the receiver refuses (value over 64 KiB): it must end up in the dead letters.
  poison: () => ({ ...makePoints(1, 'poison')[0]!, value: 'x'.repeat(100_000) }),
  capabilities: { largeCount: 20_000 },
});
