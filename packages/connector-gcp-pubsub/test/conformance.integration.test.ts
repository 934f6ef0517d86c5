import { describe } from 'vitest';
import {
  describeConnector,
  pstestBinary,
  requirePeer,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type ConnectionVariant,
  type ConnectorSetup,
  type ConnectorUnderTest,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import gcpPubSub from '../src/index.js';
import { collectorOf, FakePubSub, PROJECT } from './fake.js';

const pstest = requirePeer('pstest', pstestBinary);
// The plain connection goes through a Toxiproxy proxy (see FakePubSub): the suite needs both.
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

const TOPIC = 'conformance';

function config(f: FakePubSub, variant: ConnectionVariant): ConnectorSetup | undefined {
  const base = {
    project_id: PROJECT,
    topic: TOPIC,
    emulator: true,
    ordering: 'per-device',
    attributes: { line: '{tags.line}' },
  };
  switch (variant.kind) {
    case 'plain':
      return { config: { ...base, api_endpoint: f.proxied } };
    case 'proxied':
      return { config: { ...base, api_endpoint: `${variant.host}:${variant.port}` } };
    // The fake speaks plaintext gRPC and checks no credentials: TLS and credential scenarios need
    // a real project (see the README and real-project.integration.test.ts).
    case 'tls':
    case 'mtls':
    case 'bad-credentials':
    case 'untrusted-ca':
    case 'expired-cert':
      return undefined;
  }
}

const target = {
  name: 'gcp-pubsub on pstest (the Pub/Sub fake)',
  plugin: gcpPubSub,
  requires: {
    available: pstest.available && toxiproxy.available,
    reason: pstest.reason ?? toxiproxy.reason,
  },
  async peer() {
    const f = await FakePubSub.start();
    await f.createTopic(TOPIC);
    return f;
  },
  dispose: (f) => f.dispose(),
  config,
  readBack: async (f) => collectorOf(await f.reader(TOPIC)),
  address: (f) => ({ host: f.fake.host, port: f.fake.ports.grpc }),
  faultProxy: toxiproxyFaultProxy(),
  restart: (f) => f.restart(),
  stop: (f) => f.stop(),
  start: (f) => f.start(),
  // No `kill`: the fake keeps messages in memory, so a SIGKILL loses what it acknowledged; that
  // Pub/Sub keeps an acknowledged message is the service's promise, provable only on a real project.
  // Poison: an attribute (from the point's `line` tag) over Pub/Sub's 1,024-byte value limit,
  // refused before the wire whatever else is in the batch.
  poison: (): DataPoint => ({
    id: newPointId(),
    deviceId: 'poison',
    tagName: 'big-attribute',
    value: 1,
    quality: 'GOOD',
    timestamp: Date.now(),
    tags: { line: 'x'.repeat(1025) },
  }),
} satisfies ConnectorUnderTest<FakePubSub>;

describe('gcp-pubsub', () => {
  describeConnector(target);
});
