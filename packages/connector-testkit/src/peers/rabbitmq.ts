import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';

/** Debian's rabbitmq-server package; `/usr/sbin/rabbitmq-server` is a wrapper that switches user and drops our environment. */
const RABBITMQ_BIN = process.env.BIFROST_RABBITMQ_BIN ?? '/usr/lib/rabbitmq/bin';
const INSTALL_HINT = 'install it with `bash scripts/install-peers.sh` (Debian: apt-get install rabbitmq-server)';

/** PEM material for the broker's TLS listener. */
export interface RabbitTlsFiles {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface RabbitPeerOptions {
  /** Opens an `amqps` listener with these; client certificates are verified when presented. */
  tls?: RabbitTlsFiles;
  /** Require a client certificate on the TLS listener (mTLS). Default false. */
  requireClientCert?: boolean;
  /** The broker's user; default `bifrost` with a random password. */
  user?: { username: string; password: string };
  /** Extra `rabbitmq.conf` lines. */
  conf?: Record<string, string | number | boolean>;
  /** How long to wait for the node to boot, ms (default 90 s). */
  startTimeoutMs?: number;
}

/** Where the RabbitMQ scripts are, or why they are not usable. */
export function rabbitInstallation(): { bin: string } | { missing: string } {
  if (!existsSync(join(RABBITMQ_BIN, 'rabbitmq-server'))) return { missing: `rabbitmq-server not found in ${RABBITMQ_BIN}; ${INSTALL_HINT}` };
  if (spawnSync('epmd', ['-help'], { stdio: 'ignore' }).error) return { missing: `epmd (Erlang) not found on PATH; ${INSTALL_HINT}` };
  return { bin: RABBITMQ_BIN };
}

/** rabbitmq.conf (new-style sysctl format) for a loopback-only node with the management plugin off. */
export function rabbitConf(p: {
  amqpPort: number;
  amqpsPort?: number;
  tlsDir?: string;
  requireClientCert: boolean;
  user: { username: string; password: string };
  extra?: Record<string, string | number | boolean>;
}): string {
  const conf: Record<string, string | number | boolean> = {
    'listeners.tcp.default': `127.0.0.1:${p.amqpPort}`,
    'default_user': p.user.username,
    'default_pass': p.user.password,
    'default_vhost': '/',
    'loopback_users': 'none',
    'log.console': true,
    'log.console.level': 'warning',
    'log.file': false,
    // A test box may be low on disk; the default 50 MB limit would block publishers for no reason here.
    'disk_free_limit.absolute': '10MB',
  };
  if (p.amqpsPort !== undefined && p.tlsDir) {
    Object.assign(conf, {
      'listeners.ssl.default': `127.0.0.1:${p.amqpsPort}`,
      'ssl_options.cacertfile': join(p.tlsDir, 'ca.pem'),
      'ssl_options.certfile': join(p.tlsDir, 'server.pem'),
      'ssl_options.keyfile': join(p.tlsDir, 'server.key'),
      'ssl_options.verify': 'verify_peer',
      'ssl_options.fail_if_no_peer_cert': p.requireClientCert,
    });
  }
  Object.assign(conf, p.extra);
  return Object.entries(conf).map(([k, v]) => `${k} = ${String(v)}`).join('\n') + '\n';
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * A RabbitMQ node of its own: unique node name, random AMQP / AMQPS / distribution ports and a
 * private epmd, all on 127.0.0.1; data, logs, config and the Erlang cookie (HOME) in a temporary
 * directory that survives {@link restart} and is removed by {@link stop}.
 */
export class RabbitPeer {
  /** `amqp://user:pass@127.0.0.1:port` */
  url = '';
  /** `amqps://user:pass@localhost:port` (when started with `tls`). */
  tlsUrl: string | undefined;
  readonly user: { username: string; password: string };
  readonly nodeName: string;
  private dir = '';
  private ports = { amqp: 0, amqps: 0, dist: 0, epmd: 0 };
  private proc: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private epmd: ChildProcess | undefined;
  private log: string[] = [];

  private constructor(private readonly opts: RabbitPeerOptions, private readonly bin: string) {
    this.user = opts.user ?? { username: 'bifrost', password: randomBytes(9).toString('base64url') };
    this.nodeName = `bifrost-${process.pid}-${randomBytes(3).toString('hex')}@localhost`;
  }

  /** Starts a node; throws with the install hint when RabbitMQ or Erlang is missing. */
  static async start(opts: RabbitPeerOptions = {}): Promise<RabbitPeer> {
    const found = rabbitInstallation();
    if ('missing' in found) throw new Error(`[testkit] ${found.missing}`);
    const peer = new RabbitPeer(opts, found.bin);
    try {
      await peer.prepare();
      await peer.launch();
    } catch (err) {
      await peer.stop();
      throw err;
    }
    return peer;
  }

  /** The node's recent output (for failing tests). */
  logs(): string {
    return this.log.join('');
  }

  /** Runs `rabbitmqctl <args>` against this node; throws with its output on failure. */
  ctl(...args: string[]): string {
    const res = spawnSync(join(this.bin, 'rabbitmqctl'), ['-n', this.nodeName, ...args], { env: this.env(), encoding: 'utf8', timeout: 60_000 });
    if (res.status !== 0) throw new Error(`[testkit] rabbitmqctl ${args.join(' ')} failed: ${res.stdout}${res.stderr}`);
    return res.stdout;
  }

  /** Stops the node and starts it again on the same ports and data. */
  async restart(): Promise<void> {
    await this.halt();
    await this.launch();
  }

  /** Stops the node, keeping its data (see {@link resume}). */
  async halt(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    // SIGTERM to the node's process group: the start script, beam and its port helpers.
    process.kill(-proc.pid!, 'SIGTERM');
    const killer = setTimeout(() => {
      try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, 20_000);
    await this.exited;
    clearTimeout(killer);
    while (await portOpen(this.ports.amqp)) await new Promise((r) => setTimeout(r, 100));
  }

  /** Starts a halted node again. */
  resume(): Promise<void> {
    return this.launch();
  }

  /** Stops the node and its epmd and removes the directory. Idempotent. */
  async stop(): Promise<void> {
    await this.halt();
    if (this.epmd && this.epmd.exitCode === null) {
      const gone = new Promise((r) => this.epmd!.once('exit', r));
      this.epmd.kill('SIGTERM');
      await gone;
    }
    this.epmd = undefined;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      HOME: d, // the Erlang cookie lives in $HOME: private to this run
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.ports.amqp),
      RABBITMQ_DIST_PORT: String(this.ports.dist),
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: join(d, 'rabbitmq.pid'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_EPMD_PORT: String(this.ports.epmd),
    };
  }

  private async prepare(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'bifrost-rabbitmq-'));
    const port = () => getPort({ host: '127.0.0.1' });
    this.ports = { amqp: await port(), amqps: await port(), dist: await port(), epmd: await port() };
    let tlsDir: string | undefined;
    if (this.opts.tls) {
      tlsDir = join(this.dir, 'tls');
      await mkdir(tlsDir);
      await writeFile(join(tlsDir, 'ca.pem'), this.opts.tls.caPem);
      await writeFile(join(tlsDir, 'server.pem'), this.opts.tls.certPem);
      await writeFile(join(tlsDir, 'server.key'), this.opts.tls.keyPem, { mode: 0o600 });
    }
    await writeFile(join(this.dir, 'rabbitmq.conf'), rabbitConf({
      amqpPort: this.ports.amqp,
      amqpsPort: this.opts.tls ? this.ports.amqps : undefined,
      tlsDir,
      requireClientCert: this.opts.requireClientCert ?? false,
      user: this.user,
      extra: this.opts.conf,
    }));
    await writeFile(join(this.dir, 'enabled_plugins'), '[].\n');
    await writeFile(join(this.dir, 'rabbitmq-env.conf'), '');
    const auth = `${encodeURIComponent(this.user.username)}:${encodeURIComponent(this.user.password)}`;
    this.url = `amqp://${auth}@127.0.0.1:${this.ports.amqp}`;
    this.tlsUrl = this.opts.tls ? `amqps://${auth}@localhost:${this.ports.amqps}` : undefined;
    // A private epmd on loopback, so nodes of parallel runs never meet and nothing listens outside.
    this.epmd = spawn('epmd', ['-port', String(this.ports.epmd)], { env: this.env(), stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(this.ports.epmd))) {
      if (Date.now() > deadline || this.epmd.exitCode !== null) throw new Error('[testkit] epmd did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async launch(): Promise<void> {
    const proc = spawn(join(this.bin, 'rabbitmq-server'), [], {
      cwd: this.dir,
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so halt() reaches beam and its helpers
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const capture = (chunk: Buffer) => {
      this.log.push(chunk.toString());
      if (this.log.length > 400) this.log.splice(0, this.log.length - 400);
    };
    proc.stdout!.on('data', capture);
    proc.stderr!.on('data', capture);
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 90_000);
    // The AMQP listener opens last in the boot sequence; await_startup then confirms the node is up.
    while (!(await portOpen(this.ports.amqp))) {
      if (proc.exitCode !== null) throw new Error(`[testkit] rabbitmq-server exited with ${proc.exitCode}:\n${this.logs().slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`[testkit] rabbitmq-server did not start in time:\n${this.logs().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    this.ctl('await_startup', '--timeout', '60');
  }
}
