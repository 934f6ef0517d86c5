import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_HINT, findBinary } from './binaries.js';
import { tcpOpen } from './probes.js';
import { startProcessPeer, type PeerContext, type ProcessPeer } from './process-peer.js';
import type { ServerTlsPem } from '../tls/fixture.js';
import { writeServerTlsFiles } from './server-tls-files.js';

/**
 * Debian's `/usr/sbin/rabbitmq-server` is a wrapper that switches to the rabbitmq user and drops
 * the environment this peer is configured through, so the real script is preferred.
 */
const RABBITMQ_SCRIPTS = '/usr/lib/rabbitmq/bin';

export interface RabbitUser {
  username: string;
  password: string;
}

export interface RabbitOptions {
  /** Opens an `amqps` listener with this material; client certificates are verified when presented. */
  tls?: ServerTlsPem;
  /** Refuse TLS clients without a certificate signed by the CA (mTLS). Default false. */
  requireClientCert?: boolean;
  /** The node's user (administrator on vhost `/`); default `bifrost` with a random password. */
  user?: RabbitUser;
  /** Extra `rabbitmq.conf` entries. */
  conf?: Readonly<Record<string, string | number | boolean>>;
}

type RabbitPort = 'amqp' | 'amqps' | 'dist';

/** A running RabbitMQ node of its own on 127.0.0.1. */
export interface RabbitPeer extends ProcessPeer<RabbitPort> {
  /** `amqp://user:pass@127.0.0.1:port` */
  readonly url: string;
  /** `amqps://user:pass@localhost:port`, when started with `tls`. */
  readonly tlsUrl: string | undefined;
  readonly user: RabbitUser;
  /** Erlang node name, unique per run. */
  readonly nodeName: string;
  /** Runs `rabbitmqctl <args>` against this node and returns its output; throws with it on failure. */
  ctl(...args: string[]): string;
}

/** The RabbitMQ scripts and epmd, or why the peer cannot run (for `requirePeer('rabbitmq', rabbitInstallation)`). */
export function rabbitInstallation(): { server: string; ctl: string; epmd: string } | { missing: string } {
  const dir = process.env.BIFROST_RABBITMQ_BIN ?? RABBITMQ_SCRIPTS;
  const server = join(dir, 'rabbitmq-server');
  if (!existsSync(server))
    return { missing: `rabbitmq-server not found in ${dir} (Debian package rabbitmq-server); ${INSTALL_HINT}` };
  const epmd = findBinary('epmd', { extraDirs: ['/usr/lib/erlang/bin'] });
  if (!epmd) return { missing: `epmd (Erlang) not found; ${INSTALL_HINT}` };
  return { server, ctl: join(dir, 'rabbitmqctl'), epmd };
}

/** `rabbitmq.conf` (sysctl format) for a loopback-only node with the management plugin off. */
export function rabbitConf(
  ctx: PeerContext<RabbitPort>,
  opts: { user: RabbitUser; tlsDir?: string; requireClientCert: boolean; extra?: RabbitOptions['conf'] },
): string {
  const conf: Record<string, string | number | boolean> = {
    'listeners.tcp.default': `${ctx.host}:${ctx.ports.amqp}`,
    default_user: opts.user.username,
    default_pass: opts.user.password,
    default_vhost: '/',
    loopback_users: 'none',
    'log.console': true,
    'log.console.level': 'warning',
    'log.file': false,
    // A test machine may be short of disk; the default 50 MB alarm would block publishers for no reason here.
    'disk_free_limit.absolute': '10MB',
  };
  if (opts.tlsDir) {
    Object.assign(conf, {
      'listeners.ssl.default': `${ctx.host}:${ctx.ports.amqps}`,
      'ssl_options.cacertfile': join(opts.tlsDir, 'ca.pem'),
      'ssl_options.certfile': join(opts.tlsDir, 'server.pem'),
      'ssl_options.keyfile': join(opts.tlsDir, 'server.key'),
      'ssl_options.verify': 'verify_peer',
      'ssl_options.fail_if_no_peer_cert': opts.requireClientCert,
    });
  }
  Object.assign(conf, opts.extra);
  return (
    Object.entries(conf)
      .map(([k, v]) => `${k} = ${String(v)}`)
      .join('\n') + '\n'
  );
}

/**
 * Starts a RabbitMQ node of its own: a unique node name, random AMQP / AMQPS / distribution ports
 * and a private epmd, all on 127.0.0.1, with data, logs, config and the Erlang cookie (HOME) in
 * the peer's temporary directory; the management plugin is off. `restart()` / `stop()` + `start()`
 * keep the data (durable queues and persistent messages survive). Throws (with the install hint)
 * when RabbitMQ is missing; gate tests with `requirePeer('rabbitmq', rabbitInstallation)`.
 *
 * @example
 * const tls = createTlsFixture();
 * const rabbit = await startRabbitMq({ tls: tls.serverTls() });
 * // rabbit.url, rabbit.tlsUrl, rabbit.ctl('list_queues'); await rabbit.dispose();
 */
export async function startRabbitMq(opts: RabbitOptions = {}): Promise<RabbitPeer> {
  const found = rabbitInstallation();
  if ('missing' in found) throw new Error(`[testkit] ${found.missing}`);
  const user = opts.user ?? { username: 'bifrost', password: randomBytes(9).toString('base64url') };
  const nodeName = `bifrost-${process.pid}-${randomBytes(3).toString('hex')}@localhost`;
  // epmd as a peer of its own, so it is tracked and reaped like the node (erl would daemonize one).
  const epmd = await startProcessPeer<'epmd'>({
    name: 'epmd',
    command: found.epmd,
    ports: ['epmd'],
    args: ({ ports, host }) => ['-port', String(ports.epmd), '-address', host],
  });
  const env = (ctx: PeerContext<RabbitPort>): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: ctx.dir, // the Erlang cookie lives in $HOME: private to this node
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: ctx.host,
    RABBITMQ_NODE_PORT: String(ctx.ports.amqp),
    RABBITMQ_DIST_PORT: String(ctx.ports.dist),
    RABBITMQ_MNESIA_BASE: join(ctx.dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(ctx.dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(ctx.dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(ctx.dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(ctx.dir, 'enabled_plugins'),
    RABBITMQ_CONF_ENV_FILE: join(ctx.dir, 'rabbitmq-env.conf'),
    RABBITMQ_PID_FILE: join(ctx.dir, 'rabbitmq.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    ERL_EPMD_ADDRESS: ctx.host,
    ERL_EPMD_PORT: String(epmd.ports.epmd),
  });
  const ctl = (ctx: PeerContext<RabbitPort>, args: readonly string[]) =>
    spawnSync(found.ctl, ['-n', nodeName, ...args], { env: env(ctx), encoding: 'utf8', timeout: 60_000 });
  let peer: ProcessPeer<RabbitPort>;
  try {
    peer = await startProcessPeer<RabbitPort>({
      name: 'rabbitmq',
      command: found.server,
      ports: ['amqp', 'amqps', 'dist'],
      args: [],
      env,
      startTimeoutMs: 90_000,
      stopTimeoutMs: 30_000,
      prepare(ctx) {
        const tlsDir = opts.tls ? writeServerTlsFiles(ctx.dir, opts.tls) : undefined;
        writeFileSync(
          join(ctx.dir, 'rabbitmq.conf'),
          rabbitConf(ctx, { user, tlsDir, requireClientCert: opts.requireClientCert ?? false, extra: opts.conf }),
        );
        writeFileSync(join(ctx.dir, 'enabled_plugins'), '[].\n');
        writeFileSync(join(ctx.dir, 'rabbitmq-env.conf'), '');
      },
      // The AMQP listener opens late in the boot; await_startup then confirms the node finished booting.
      ready: async (ctx) =>
        (await tcpOpen(ctx.ports.amqp)) && ctl(ctx, ['await_startup', '--timeout', '30']).status === 0,
    });
  } catch (err) {
    await epmd.dispose();
    throw err;
  }
  const disposeNode = peer.dispose.bind(peer);
  const auth = `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}`;
  return Object.assign(peer, {
    url: `amqp://${auth}@${peer.host}:${peer.ports.amqp}`,
    tlsUrl: opts.tls ? `amqps://${auth}@localhost:${peer.ports.amqps}` : undefined,
    user,
    nodeName,
    ctl(...args: string[]): string {
      const res = ctl(peer, args);
      if (res.status !== 0)
        throw new Error(`[testkit] rabbitmqctl ${args.join(' ')} failed: ${res.stdout}${res.stderr}`);
      return res.stdout;
    },
    async dispose(): Promise<void> {
      await disposeNode();
      await epmd.dispose();
    },
  });
}
