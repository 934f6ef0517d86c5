import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryNotFound, findBinary } from './binaries.js';
import { startProcessPeer, type PeerContext, type ProcessPeer } from './process-peer.js';
import type { ServerTlsPem } from '../tls/fixture.js';
import { writeServerTlsFiles } from './server-tls-files.js';

/** An MQTT user known to the broker (password file made with `mosquitto_passwd`). */
export interface MqttUser {
  username: string;
  password: string;
}

export interface MosquittoOptions {
  /**
   * Opens two more listeners with this material: `mqtts` (TLS; client certificates optional) and
   * `mqttsMutual` (mTLS: a client certificate signed by `caPem` is required).
   */
  tls?: ServerTlsPem;
  /** Users of the password file. With users, anonymous clients are refused unless `allowAnonymous`. */
  users?: readonly MqttUser[];
  /** Default: true without `users`, false with them. */
  allowAnonymous?: boolean;
  /**
   * Largest packet the broker accepts (`max_packet_size`), announced to MQTT 5 clients in CONNACK;
   * larger packets end the connection (e.g. AWS IoT's 128 KB message limit plus the packet framing).
   */
  maxPacketSize?: number;
  /**
   * QoS 1/2 messages a client may have unacknowledged (`max_inflight_messages`), announced to MQTT 5
   * clients as Receive Maximum (Mosquitto's default is 20; AWS IoT's is 100).
   */
  maxInflight?: number;
  /** Extra `mosquitto.conf` lines (global section). */
  conf?: readonly string[];
}

type MosquittoPort = 'mqtt' | 'mqtts' | 'mqttsMutual';

/** A running Mosquitto: plain, TLS and mTLS listeners on 127.0.0.1, persistence in its temp dir. */
export interface MosquittoPeer extends ProcessPeer<MosquittoPort> {
  /** `mqtt://127.0.0.1:<port>` */
  readonly url: string;
  /** `mqtts://localhost:<port>` (TLS, server verified against the CA), when started with `tls`. */
  readonly tlsUrl: string | undefined;
  /** `mqtts://localhost:<port>` of the listener that requires a client certificate, when started with `tls`. */
  readonly mtlsUrl: string | undefined;
  readonly users: readonly MqttUser[];
}

/** The `mosquitto` binary (`$BIFROST_MOSQUITTO`, PATH, /usr/sbin), or undefined. */
export function mosquittoBinary(): string | undefined {
  return findBinary('mosquitto', { env: 'BIFROST_MOSQUITTO' });
}

/** `mosquitto.conf` for a loopback-only broker; exported for tests of the config itself. */
export function mosquittoConf(
  ctx: PeerContext<MosquittoPort>,
  opts: MosquittoOptions & { hasPasswords: boolean; tlsDir?: string },
): string {
  const anonymous = opts.allowAnonymous ?? !opts.hasPasswords;
  const lines = [
    'per_listener_settings false',
    `allow_anonymous ${anonymous}`,
    ...(opts.hasPasswords ? [`password_file ${join(ctx.dir, 'passwd')}`] : []),
    'persistence true',
    `persistence_location ${join(ctx.dir, 'data')}/`,
    'autosave_interval 10',
    // A test broker must never drop what it acknowledged: no cap on a slow subscriber's queue.
    'max_queued_messages 0',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    // Stay the user that started the test: the peer dir is private to it.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    ...(opts.maxPacketSize !== undefined ? [`max_packet_size ${opts.maxPacketSize}`] : []),
    ...(opts.maxInflight !== undefined ? [`max_inflight_messages ${opts.maxInflight}`] : []),
    ...(opts.conf ?? []),
    `listener ${ctx.ports.mqtt} 127.0.0.1`,
  ];
  if (opts.tlsDir) {
    const files = [
      `cafile ${join(opts.tlsDir, 'ca.pem')}`,
      `certfile ${join(opts.tlsDir, 'server.pem')}`,
      `keyfile ${join(opts.tlsDir, 'server.key')}`,
    ];
    lines.push(`listener ${ctx.ports.mqtts} 127.0.0.1`, ...files, 'require_certificate false');
    lines.push(`listener ${ctx.ports.mqttsMutual} 127.0.0.1`, ...files, 'require_certificate true');
  }
  return lines.join('\n') + '\n';
}

function writePasswords(passwd: string, users: readonly MqttUser[]): void {
  const tool = findBinary('mosquitto_passwd', { env: 'BIFROST_MOSQUITTO_PASSWD' });
  if (!tool) throw binaryNotFound('mosquitto_passwd (Debian package mosquitto)');
  writeFileSync(passwd, '', { mode: 0o600 });
  for (const u of users) {
    const res = spawnSync(tool, ['-b', passwd, u.username, u.password], { encoding: 'utf8' });
    if (res.status !== 0)
      throw new Error(`[testkit] mosquitto_passwd failed for user '${u.username}': ${res.stderr || res.stdout}`);
  }
}

/**
 * Starts Mosquitto with a plain listener, and with `tls` a TLS and an mTLS listener, all on
 * 127.0.0.1 in one process; users in a password file. Throws (with the install hint) when the
 * binary is missing; gate tests with `requirePeer('mosquitto', mosquittoBinary)`.
 *
 * @example
 * const tls = createTlsFixture();
 * const broker = await startMosquitto({ tls: tls.serverTls(), users: [{ username: 'u', password: 'p' }] });
 * // broker.url, broker.tlsUrl, broker.mtlsUrl; broker.restart(); await broker.dispose();
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoPeer> {
  const bin = mosquittoBinary();
  if (!bin) throw binaryNotFound('mosquitto');
  const users = opts.users ?? [];
  const ports: MosquittoPort[] = opts.tls ? ['mqtt', 'mqtts', 'mqttsMutual'] : ['mqtt'];
  const peer = await startProcessPeer<MosquittoPort>({
    name: 'mosquitto',
    command: bin,
    ports,
    args: ({ dir }) => ['-c', join(dir, 'mosquitto.conf')],
    prepare(ctx) {
      mkdirSync(join(ctx.dir, 'data'));
      const tlsDir = opts.tls ? writeServerTlsFiles(ctx.dir, opts.tls) : undefined;
      if (users.length) writePasswords(join(ctx.dir, 'passwd'), users);
      writeFileSync(
        join(ctx.dir, 'mosquitto.conf'),
        mosquittoConf(ctx, { ...opts, hasPasswords: users.length > 0, tlsDir }),
      );
    },
  });
  return Object.assign(peer, {
    url: `mqtt://127.0.0.1:${peer.ports.mqtt}`,
    tlsUrl: opts.tls ? `mqtts://localhost:${peer.ports.mqtts}` : undefined,
    mtlsUrl: opts.tls ? `mqtts://localhost:${peer.ports.mqttsMutual}` : undefined,
    users,
  });
}
