import { describe } from 'vitest';
import {
  describeConnector,
  makePoint,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  requirePeer,
  type ConnectorUnderTest,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import awsIot, { AWS_IOT_LIMITS } from '../src/index.js';
import { readBack, mosquitto, mtlsPort, startBroker, variantSetup } from './support/broker.js';

const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

const base = {
  thing_name: 'conformance-gw',
  topic_prefix: 'conf',
  // The suite measures delivery, not AWS's per-connection quota (which the quota tests prove).
  max_publish_rate: 100_000,
  max_throughput_kib: 1_000_000,
};

const BATCH_SCENARIOS = [
  'send-1',
  'send-1000',
  'send-100000',
  'parallel-writers',
  'poison-dead-letter',
  'peer-restart-mid-stream',
];

for (const messages of ['point', 'batch'] as const) {
  const target = {
    name: `aws-iot (messages: ${messages}) on mosquitto mTLS`,
    requires: mosquitto,
    plugin: awsIot,
    peer: () => startBroker(),
    dispose: (p) => p.dispose(),
    config: (p, v) =>
      variantSetup(p, v, {
        ...base,
        messages,
        client_id: `conf-${messages}-${Math.random().toString(16).slice(2, 10)}`,
      }),
    readBack: (p) => readBack(p, 'conf/#'),
    address: (p) => ({ host: '127.0.0.1', port: mtlsPort(p) }),
    ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
    restart: (p) => p.restart(),
    stop: (p) => p.stop(),
    start: (p) => p.start(),
    poison: () => ({ ...makePoint('poison'), value: 'x'.repeat(AWS_IOT_LIMITS.payloadBytes + 1) }),
    // `batch` changes only how messages are built: its scenarios are the ones that build them (the
    // connection and fault handling are the same code, run in full with `point`).
    ...(messages === 'batch' && { scenarios: BATCH_SCENARIOS }),
  } satisfies ConnectorUnderTest<MosquittoPeer>;
  describe(target.name, () => {
    describeConnector<MosquittoPeer>(target);
  });
}

/**
 * The broker killed (SIGKILL) mid-stream and started again. Mosquitto writes its store only every
 * `autosave_interval`, so this runs on a broker that saves after every change, as one that must
 * survive a crash is configured (what AWS IoT acknowledges is durable on AWS's side).
 */
describe('aws-iot (messages: point) on mosquitto mTLS saving every change', () => {
  describeConnector<MosquittoPeer>({
    name: 'aws-iot (messages: point) on mosquitto mTLS saving every change',
    requires: mosquitto,
    plugin: awsIot,
    peer: () => startBroker(['autosave_on_changes true', 'autosave_interval 1']),
    dispose: (p) => p.dispose(),
    config: (p, v) =>
      variantSetup(p, v, {
        ...base,
        messages: 'point',
        client_id: `conf-kill-${Math.random().toString(16).slice(2, 10)}`,
      }),
    readBack: (p) => readBack(p, 'conf/#'),
    address: (p) => ({ host: '127.0.0.1', port: mtlsPort(p) }),
    kill: async (p) => {
      await p.kill();
      await p.start();
    },
    scenarios: ['peer-killed-mid-stream'],
    // A broker writing its store on every change acknowledges slowly on a loaded 2-core machine.
    delivery: { timeoutMs: 15_000 },
  });
});
