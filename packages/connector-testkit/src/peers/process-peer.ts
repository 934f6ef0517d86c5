import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';
import { LogRing } from './log-ring.js';
import { tcpOpen, waitFor } from './probes.js';
import { PEER_DIR_PREFIX, reapOrphans, track, untrack } from './reaper.js';

/** Every peer listens on loopback only. */
export const PEER_HOST = '127.0.0.1';

/** What a peer's spec functions get: its directory and the ports allocated for it. */
export interface PeerContext<Port extends string = string> {
  /** Name of the peer (`mosquitto`), used in log lines and errors. */
  readonly name: string;
  /** The peer's own temporary directory; kept across restarts, removed by `dispose()`. */
  readonly dir: string;
  /** Always `127.0.0.1`. */
  readonly host: typeof PEER_HOST;
  /** Free ports on 127.0.0.1, one per name in the spec; fixed for the peer's life (restarts keep them). */
  readonly ports: Readonly<Record<Port, number>>;
  /** uid/gid the server runs as (from `runAs` when tests run as root), for helper commands in `prepare`. */
  readonly osUser: UserIds | undefined;
}

/**
 * How to run one kind of server. Adding a peer means writing one of these plus a small typed
 * wrapper that exposes URLs and helpers; see `mosquitto.ts` for a complete example:
 *
 * @example
 * const peer = await startProcessPeer({
 *   name: 'echo',
 *   command: findBinary('socat')!,
 *   ports: ['tcp'],
 *   args: ({ ports }) => [`TCP-LISTEN:${ports.tcp},bind=127.0.0.1,fork,reuseaddr`, 'EXEC:cat'],
 *   // ready defaults to "the first port accepts TCP connections"
 * });
 * try { ... peer.ports.tcp ... } finally { await peer.dispose(); }
 */
export interface ProcessPeerSpec<Port extends string = string> {
  name: string;
  /** Absolute path of the server binary (see `findBinary`). */
  command: string;
  args: readonly string[] | ((ctx: PeerContext<Port>) => readonly string[]);
  /** Names of the ports to allocate, e.g. `['mqtt', 'mqtts']`. The first is the default readiness probe. */
  ports: readonly Port[];
  /**
   * Ports to use instead of free random ones (e.g. to reach the peer from a tool at a known port).
   * Also from the environment: `BIFROST_PEER_PORT_<NAME>_<PORT>` (upper case, `-` as `_`), e.g.
   * `BIFROST_PEER_PORT_MOSQUITTO_MQTT=1883`; the option wins.
   */
  fixedPorts?: Partial<Record<Port, number>>;
  /** Writes config files, initialises data dirs: runs once, before the first start. */
  prepare?: (ctx: PeerContext<Port>) => Promise<void> | void;
  /** Readiness probe, polled until true. Default: the first port accepts a TCP connection. */
  ready?: (ctx: PeerContext<Port>) => Promise<boolean> | boolean;
  /** Environment of the server (default: PATH and LANG only, so the host's settings never leak in). */
  env?: (ctx: PeerContext<Port>) => NodeJS.ProcessEnv;
  /**
   * System user to run the server as when the tests run as root (PostgreSQL refuses root). The
   * peer directory is handed to that user after `prepare`. Ignored when not root.
   */
  runAs?: string;
  /** Signal for a graceful stop (default SIGTERM); SIGKILL follows after `stopTimeoutMs`. */
  stopSignal?: NodeJS.Signals;
  /** Default 15 s. */
  stopTimeoutMs?: number;
  /** How long `start()` waits for the readiness probe (default 30 s). */
  startTimeoutMs?: number;
  /** Output lines kept for failure reports (default 400). */
  logLines?: number;
}

/** A system user's numeric ids (spawn options `uid` / `gid`). */
export interface UserIds {
  uid: number;
  gid: number;
}

function userIds(user: string): UserIds {
  const id = (flag: string) => {
    const res = spawnSync('id', [flag, user], { encoding: 'utf8' });
    if (res.status !== 0)
      throw new Error(
        `[testkit] system user '${user}' not found (${res.stderr.trim()}); the server runs as that user when tests run as root`,
      );
    return Number(res.stdout.trim());
  };
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * A server running as a child process of the test: its own temporary directory and loopback
 * ports, output captured in a ring buffer, and a life cycle the scenarios drive
 * (`stop` / `start` / `restart` / `kill`, then `dispose`). Processes and directories are
 * also reaped when the test process exits, and orphans of crashed runs on the next start.
 */
export class ProcessPeer<Port extends string = string> implements PeerContext<Port> {
  readonly host = PEER_HOST;
  private readonly log: LogRing;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private spawnError: Error | undefined;
  private disposed = false;

  /** @internal use {@link startProcessPeer} */
  constructor(
    private readonly spec: ProcessPeerSpec<Port>,
    readonly dir: string,
    readonly ports: Readonly<Record<Port, number>>,
    readonly osUser: UserIds | undefined,
  ) {
    this.log = new LogRing(spec.logLines ?? 400);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Pid of the running server (leader of its process group), or undefined when stopped. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The server's recent output (stdout and stderr interleaved) with start/exit markers. */
  logs(maxLines?: number): string {
    return this.log.text(maxLines);
  }

  /** Starts the server (no-op when running) and waits until the readiness probe passes. */
  async start(): Promise<void> {
    if (this.disposed) throw new Error(`[testkit] ${this.name}: start() after dispose()`);
    if (this.running) return;
    const args = typeof this.spec.args === 'function' ? this.spec.args(this) : this.spec.args;
    this.log.note(`start ${this.spec.command} ${args.join(' ')}`);
    this.spawnError = undefined;
    const child = spawn(this.spec.command, args, {
      cwd: this.dir,
      env: this.spec.env?.(this) ?? { PATH: process.env.PATH, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: stop/kill reach the server's helpers too
      ...(this.osUser ?? {}),
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    const echo = process.env.BIFROST_PEER_LOGS === '1';
    const capture = (chunk: Buffer) => {
      this.log.push(chunk);
      if (echo) process.stderr.write(`[${this.name}] ${chunk.toString()}`);
    };
    child.stdout.on('data', capture);
    child.stderr.on('data', capture);
    child.once('error', (err) => {
      this.spawnError = err;
    });
    child.once('exit', (code, signal) => this.log.note(`exit ${signal ?? code}`));
    if (child.pid) track(this.dir, child.pid);
    const [firstPort] = this.spec.ports;
    const probe = this.spec.ready ?? (() => firstPort !== undefined && tcpOpen(this.ports[firstPort]));
    try {
      await waitFor(() => probe(this), {
        timeoutMs: this.spec.startTimeoutMs ?? 30_000,
        intervalMs: 100,
        failFast: () => {
          if (this.spawnError) return this.failure(`could not be started: ${this.spawnError.message}`);
          if (!this.running)
            return this.failure(`exited during startup (${child.signalCode ?? `code ${child.exitCode}`})`);
          return undefined;
        },
        describe: () => this.failure(`was not ready after ${this.spec.startTimeoutMs ?? 30_000} ms`),
      });
    } catch (err) {
      await this.kill();
      throw err;
    }
  }

  /** Graceful stop (the spec's signal, SIGKILL after the timeout); data and ports are kept for `start()`. */
  async stop(): Promise<void> {
    await this.halt(this.spec.stopSignal ?? 'SIGTERM');
  }

  /** SIGKILL, as in a power cut; data and ports are kept for `start()`. */
  async kill(): Promise<void> {
    await this.halt('SIGKILL');
  }

  /** Graceful stop, then start on the same ports and data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the server for good and removes its directory. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.stop();
    this.disposed = true;
    untrack(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  private async halt(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const group = child.pid;
    if (this.running) {
      this.log.note(`stop (${signal})`);
      signalGroup(group, signal);
      const escalate = setTimeout(() => signalGroup(group, 'SIGKILL'), this.spec.stopTimeoutMs ?? 15_000);
      await this.exited;
      clearTimeout(escalate);
    } else {
      await this.exited;
    }
    // Helpers the server forked (and did not reap) must not outlive it.
    signalGroup(group, 'SIGKILL');
    track(this.dir);
  }

  private failure(what: string): string {
    return `[testkit] ${this.name} ${what}. Its output:\n${this.logs(80)}`;
  }
}

/** A port fixed by the spec or by `BIFROST_PEER_PORT_<NAME>_<PORT>`, if any. */
export function pinnedPort<Port extends string>(
  spec: Pick<ProcessPeerSpec<Port>, 'name' | 'fixedPorts'>,
  port: Port,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  const fixed = spec.fixedPorts?.[port];
  if (fixed !== undefined) return fixed;
  const key = `BIFROST_PEER_PORT_${spec.name}_${port}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${key}=${raw} is not a port number`);
  return n;
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Creates the peer's directory (`$TMPDIR/bifrost-peer-<name>-XXXX`), allocates its ports on
 * 127.0.0.1, runs `prepare`, starts the server and waits for readiness. On failure everything is
 * cleaned up and the error carries the server's output.
 */
export async function startProcessPeer<Port extends string>(spec: ProcessPeerSpec<Port>): Promise<ProcessPeer<Port>> {
  reapOrphans();
  const ids = spec.runAs && process.getuid?.() === 0 ? userIds(spec.runAs) : undefined;
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), `${PEER_DIR_PREFIX}${spec.name}-`));
    track(dir);
    const ports = {} as Record<Port, number>;
    for (const name of spec.ports) ports[name] = pinnedPort(spec, name) ?? (await getPort({ host: PEER_HOST }));
    const peer = new ProcessPeer(spec, dir, ports, ids);
    const handOver = () => {
      if (ids) spawnSync('chown', ['-R', `${ids.uid}:${ids.gid}`, dir]);
    };
    try {
      handOver();
      await spec.prepare?.(peer);
      handOver();
      await peer.start();
      return peer;
    } catch (err) {
      await peer.dispose();
      // Another process may take a port between allocation and bind (parallel test runs): retry on fresh ports.
      if (attempt < 3 && PORT_TAKEN.test((err as Error).message)) continue;
      throw err;
    }
  }
}

const PORT_TAKEN = /address already in use|EADDRINUSE|bind.*(in use|failed)/i;
