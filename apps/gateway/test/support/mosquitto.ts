// Mosquitto as a separate process on 127.0.0.1 for the gateway's end-to-end test and bench.
// Plain erasable TypeScript: the bench (Node type stripping) imports it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SEARCH = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'];

/** Path of the mosquitto binary (`$BIFROST_MOSQUITTO` first), or undefined. */
export function findMosquitto(): string | undefined {
  const candidates = process.env.BIFROST_MOSQUITTO ? [process.env.BIFROST_MOSQUITTO] : SEARCH.filter(Boolean).map((d) => join(d, 'mosquitto'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1');
  });
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A Mosquitto broker with persistence in a temp dir (so a graceful restart keeps sessions and
 * queued messages) and no limit on messages queued for a subscriber.
 */
export class MosquittoPeer {
  readonly port: number;
  readonly dir: string;
  private child: ChildProcess | undefined;
  private readonly bin: string;
  log = '';

  private constructor(bin: string, port: number) {
    this.bin = bin;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'bifrost-mosquitto-'));
    writeFileSync(join(this.dir, 'mosquitto.conf'), [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${this.dir}/`,
      'max_queued_messages 0',
      'max_inflight_messages 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'));
  }

  static async start(bin: string): Promise<MosquittoPeer> {
    const peer = new MosquittoPeer(bin, await freePort());
    await peer.startProcess();
    return peer;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    const child = spawn(this.bin, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { this.log = (this.log + d.toString()).slice(-8000); });
    this.child = child;
    await waitUntil(`mosquitto on port ${this.port} (log: ${this.log})`, () => portOpen(this.port));
  }

  /** Stops the process with `signal` and waits for it to exit. */
  async stopProcess(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  async close(): Promise<void> {
    await this.stopProcess('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
