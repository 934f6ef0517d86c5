import { describe } from 'vitest';
import {
  describeConnector,
  faultProxyFactory,
  type ConnectionVariant,
  type ConnectorSetup,
  type ConnectorUnderTest,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import azureIot, { MAX_MESSAGE_BYTES } from '../src/index.js';
import { collectorOf, startHub, stopHub, type Hub } from './support/hub.js';

function config(h: Hub, variant: ConnectionVariant): ConnectorSetup | undefined {
  const { hub, tls, device } = h;
  const sas = (cs: string) => ({ connection_string: cs, properties: { line: '{tags.line}' } });
  // IoT Hub speaks only TLS: the "plain" connection is TLS verified against the run's CA.
  switch (variant.kind) {
    case 'plain':
    case 'tls':
      return { config: sas(hub.connectionString(device)), tls: tls.clientTls('tls') };
    case 'proxied':
      // No plain wire to read a marker from (poison-after-send): IoT Hub only speaks TLS.
      if (variant.plainWire) return undefined;
      return {
        config: sas(hub.connectionString(device, `${variant.host}:${variant.port}`)),
        tls: tls.clientTls('tls'),
      };
    case 'bad-credentials':
      return {
        config: sas(hub.connectionString({ ...device, key: Buffer.from('a wrong key').toString('base64') })),
        tls: tls.clientTls('tls'),
      };
    case 'untrusted-ca':
      return { config: sas(hub.connectionString(device)), tls: tls.clientTls('untrusted-ca') };
    case 'mtls':
      return { config: { ...sas(hub.connectionString(h.x509Device)), x509: true }, tls: tls.clientTls('mtls') };
    case 'expired-cert':
      return {
        config: { ...sas(hub.connectionString(h.expiredDevice)), x509: true },
        tls: tls.clientTls('expired-cert'),
      };
  }
}

const target = {
  name: 'azure-iot on the testkit IoT Hub emulator',
  plugin: azureIot,
  peer: startHub,
  dispose: stopHub,
  config,
  readBack: (h) => collectorOf(h.hub),
  address: (h) => ({ host: h.hub.host, port: h.hub.ports.mqtts }),
  faultProxy: faultProxyFactory(),
  restart: (h) => h.hub.restart(),
  stop: (h) => h.hub.stop(),
  start: (h) => h.hub.start(),
  // SIGKILL: a message the emulator acknowledged was appended to its file first.
  kill: async (h) => {
    await h.hub.kill();
    await h.hub.start();
  },
  // A point whose JSON alone exceeds IoT Hub's 256 KB message limit: refused before the wire.
  poison: (): DataPoint => ({
    id: newPointId(),
    deviceId: 'poison',
    tagName: 'big',
    value: 'x'.repeat(MAX_MESSAGE_BYTES),
    quality: 'GOOD',
    timestamp: Date.now(),
  }),
} satisfies ConnectorUnderTest<Hub>;

describe('azure-iot', () => {
  describeConnector(target);
});
