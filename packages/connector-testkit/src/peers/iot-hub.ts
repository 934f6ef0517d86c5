import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerTlsPem } from '../tls/fixture.js';
import { controlClient } from './control-client.js';
import { httpReady } from './probes.js';
import { startProcessPeer, type ProcessPeer } from './process-peer.js';

/** Listeners of the emulator: `mqtts` (IoT Hub's device endpoint) and `control` (plain HTTP). */
export type IotHubPort = 'mqtts' | 'control';

/** A device (or module) identity in the emulator's registry: a symmetric key or an X.509 thumbprint. */
export interface IotHubIdentity {
  deviceId: string;
  moduleId?: string;
  /** Base64 key SAS tokens are signed with (as `az iot hub device-identity create` generates). */
  key?: string;
  /** SHA-1 or SHA-256 thumbprint (hex) of the device's client certificate. */
  thumbprint?: string;
}

/** What a test scripts over the control endpoint; kept across restarts. */
export interface IotHubBehaviour {
  /** Delay before each telemetry PUBACK, as a throttled hub answers. */
  pubackDelayMs: number;
  /** Telemetry is neither stored nor acknowledged (PUBACKs dropped). */
  dropPubacks: boolean;
  /** Status of twin reported-property PATCH answers (default 204), e.g. 429. */
  twinPatchStatus: number;
}

/** One device-to-cloud message as the emulator stored it. */
export interface IotHubMessage {
  seq: number;
  time: number;
  deviceId: string;
  moduleId?: string;
  topic: string;
  /** System properties from the property bag without the `$.` prefix: `mid`, `ct`, `ce`, `cid`, ... */
  system: Record<string, string>;
  /** Application properties from the property bag. */
  properties: Record<string, string>;
  body: string;
  /** Body plus topic bytes, as the 256 KB limit counts them. */
  bytes: number;
}

/** One CONNECT and the emulator's verdict. */
export interface IotHubConnect {
  time: number;
  clientId: string;
  username: string;
  auth: 'sas' | 'x509' | 'none';
  ok: boolean;
  reason?: string;
}

export interface IotHubEmulatorOptions {
  tls: ServerTlsPem;
  /** Host name the hub answers as in user names and SAS resource URIs (default `bifrost-emulated.azure-devices.net`). */
  hubHost?: string;
  /** Identities registered at start (more via `register`). */
  devices?: IotHubIdentity[];
}

/** A running IoT Hub device endpoint emulator in its own process. */
export interface IotHubEmulatorPeer extends ProcessPeer<IotHubPort> {
  readonly hubHost: string;
  /** `127.0.0.1:<mqtts port>`, for a connection string's `GatewayHostName`. */
  readonly gateway: string;
  readonly controlUrl: string;
  /** Registers (or replaces) an identity. */
  register(identity: IotHubIdentity): Promise<void>;
  /** A device connection string for a registered key identity, through `gateway` (or another `host:port`). */
  connectionString(identity: IotHubIdentity, gateway?: string): string;
  setBehaviour(b: Partial<IotHubBehaviour>): Promise<IotHubBehaviour>;
  /** Behaviour back to the defaults; stored messages cleared unless `keepMessages`. */
  reset(opts?: { keepMessages?: boolean }): Promise<void>;
  /** Stored messages with `seq` above `since`, oldest first. */
  messages(since?: number): Promise<IotHubMessage[]>;
  stats(): Promise<{ messages: number; lastSeq: number; clients: number }>;
  /** Every CONNECT since start and how it was judged. */
  connects(): Promise<IotHubConnect[]>;
  /** Reported properties of a device's (`id`) or module's (`id/module`) twin, with its version. */
  twin(id: string): Promise<{ reported: Record<string, unknown>; version: number } | null>;
  /** Drops every device connection (the process keeps running). */
  disconnectAll(): Promise<void>;
}

/** A fresh random device key (32 bytes, base64), as IoT Hub generates them. */
export function newDeviceKey(): string {
  return randomBytes(32).toString('base64');
}

/**
 * A SAS token for `resourceUri` (e.g. `<hub>/devices/<id>`) signed with `key` and valid until
 * `expiry` (epoch seconds), built by the published recipe: `sig` = base64 HMAC-SHA256 over
 * `<url-encoded resource>\n<expiry>`. For tests that need a token the SDK would never make.
 */
export function iotHubSasToken(resourceUri: string, key: string, expiry: number): string {
  const sr = encodeURIComponent(resourceUri);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}`;
}

function serverArgs(): string[] {
  const js = fileURLToPath(new URL('./iot-hub-server.js', import.meta.url));
  if (existsSync(js)) return [js];
  const ts = fileURLToPath(new URL('./iot-hub-server.ts', import.meta.url));
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 6) ? [ts] : ['--experimental-strip-types', ts];
}

/**
 * Starts the IoT Hub emulator: an aedes broker on MQTT 3.1.1 over TLS (the testkit's server
 * certificate) in its own process, checking CONNECT as IoT Hub does (client id = device id or
 * `device/module`, user name `<hub>/<client id>/?api-version=...`, a SAS token verified with the
 * registered key or a client certificate with the registered thumbprint), accepting PUBLISH only on
 * `devices/<id>/messages/events/<property bag>` (and the module form) and storing each message with
 * its parsed properties, disconnecting on messages over 256 KB, answering twin GET and reported
 * PATCH on `$iothub/twin/`, and throttling (delayed or dropped PUBACKs) on demand.
 *
 * @example
 * const hub = await startIotHubEmulator({ tls: tls.serverTls() });
 * const device = { deviceId: 'press-1', key: newDeviceKey() };
 * await hub.register(device);
 * const cs = hub.connectionString(device); // HostName=...;DeviceId=press-1;SharedAccessKey=...;GatewayHostName=127.0.0.1:<port>
 */
export async function startIotHubEmulator(opts: IotHubEmulatorOptions): Promise<IotHubEmulatorPeer> {
  const hubHost = opts.hubHost ?? 'bifrost-emulated.azure-devices.net';
  const peer = await startProcessPeer<IotHubPort>({
    name: 'iot-hub',
    command: process.execPath,
    ports: ['mqtts', 'control'],
    prepare: ({ dir, host, ports }) => {
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          host,
          ports,
          hubHost,
          tls: { cert: opts.tls.certPem, key: opts.tls.keyPem },
          devices: opts.devices ?? [],
        }),
        { mode: 0o600 },
      );
    },
    args: ({ dir }) => [...serverArgs(), '--dir', dir, '--config', join(dir, 'config.json')],
    env: () => ({ PATH: process.env.PATH, LANG: 'C.UTF-8' }),
    ready: ({ host, ports }) => httpReady(`http://${host}:${ports.control}/health`),
    stopTimeoutMs: 5_000,
    startTimeoutMs: 15_000,
  });
  const controlUrl = `http://${peer.host}:${peer.ports.control}`;
  const call = controlClient('iot-hub', controlUrl);
  const gateway = `localhost:${peer.ports.mqtts}`;
  return Object.assign(peer, {
    hubHost,
    gateway,
    controlUrl,
    async register(identity: IotHubIdentity) {
      await call('POST', '/devices', identity);
    },
    connectionString(identity: IotHubIdentity, via = gateway) {
      const parts = [`HostName=${hubHost}`, `DeviceId=${identity.deviceId}`];
      if (identity.moduleId) parts.push(`ModuleId=${identity.moduleId}`);
      parts.push(identity.key ? `SharedAccessKey=${identity.key}` : 'x509=true');
      parts.push(`GatewayHostName=${via}`);
      return parts.join(';');
    },
    setBehaviour: (b: Partial<IotHubBehaviour>) => call<IotHubBehaviour>('POST', '/behaviour', b),
    async reset(o: { keepMessages?: boolean } = {}) {
      await call('POST', `/reset${o.keepMessages ? '?messages=keep' : ''}`);
    },
    messages: (since = 0) => call<IotHubMessage[]>('GET', `/messages?since=${since}`),
    stats: () => call<{ messages: number; lastSeq: number; clients: number }>('GET', '/stats'),
    connects: () => call<IotHubConnect[]>('GET', '/connects'),
    twin: (id: string) =>
      call<{ reported: Record<string, unknown>; version: number } | null>('GET', `/twin?id=${encodeURIComponent(id)}`),
    async disconnectAll() {
      await call('POST', '/disconnect');
    },
  });
}
