import { randomUUID } from 'node:crypto';
// The real `bifrost run` as a child process, for end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitUntil } from './net.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

export class GatewayProcess {
  private child: ChildProcess | undefined;
  /** The last 20 kB of its stdout and stderr. */
  log = '';
  starts = 0;
  /** Everything it wrote to stdout and stderr, when constructed with `fullOutput` (else empty). */
  output = '';
  constructor(
    private readonly config: string,
    readonly apiUrl: string,
    /** The API's bearer token, when the config sets one (`/ready` needs it). */
    private readonly token?: string,
    private readonly opts: { env?: NodeJS.ProcessEnv; fullOutput?: boolean } = {},
  ) {}

  /** Starts `bifrost run -c <config>` and waits until `/ready` answers 200. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'run', '-c', this.config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.opts.env && { env: this.opts.env }),
    });
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
      if (this.opts.fullOutput) this.output += d.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.child = child;
    this.starts++;
    await waitUntil(
      `gateway ready (log: ${this.log.slice(-2000)})`,
      async () => {
        if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${this.log.slice(-3000)}`);
        const headers: Record<string, string> = this.token ? { authorization: `Bearer ${this.token}` } : {};
        return fetch(`${this.apiUrl}/ready`, { headers }).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
    );
  }

  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by the signal). */
  async stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    return exited;
  }
}

/**
 * A gateway config for end-to-end tests: the API on `apiPort`, warnings only, no throughput log, a
 * 2 s shutdown and a 20 ms batch timeout; `cloud` adds lines under `cloud:` (e.g. `batch_size: 500`,
 * the queue), `connectors` are the YAML lines under `connectors:` (indented six spaces).
 */
export function testGatewayConfig(apiPort: number, cloud: readonly string[], connectors: readonly string[]): string {
  return [
    'gateway:',
    `  port: ${apiPort}`,
    '  log_level: warn',
    '  throughput_log_interval: 0',
    '  shutdown_timeout: 2s',
    '  cloud:',
    '    batch_timeout: 20ms',
    ...cloud.map((line) => `    ${line}`),
    '    connectors:',
    ...connectors,
    '',
  ].join('\n');
}

/** POSTs points to `/api/data` until a 2xx (the gateway may be down or restarting); returns failed attempts. */
export async function postUntilAccepted(apiUrl: string, points: unknown[]): Promise<number> {
  let failures = 0;
  for (;;) {
    const res = await fetch(`${apiUrl}/api/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(points),
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
    if (res?.ok) return failures;
    failures++;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Posts `total` points (ids random, `devices` device ids) in batches of `batch` at `ratePerS` from
 * `start`, each batch again until the gateway accepts it. Stops at once if `abort` rejects.
 * Returns the ids that got a 2xx and the failed attempts.
 */
export async function postAtRate(
  apiUrl: string,
  opts: { total: number; batch: number; ratePerS: number; devices: number; start: number; abort?: Promise<never> },
): Promise<{ accepted: Set<string>; rejected: number }> {
  const accepted = new Set<string>();
  let rejected = 0;
  for (let sent = 0; sent < opts.total; sent += opts.batch) {
    await new Promise((r) => setTimeout(r, Math.max(0, opts.start + (sent / opts.ratePerS) * 1000 - Date.now())));
    const points = Array.from({ length: opts.batch }, (_, i) => ({
      id: randomUUID(),
      deviceId: `dev-${(sent + i) % opts.devices}`,
      tagName: 'seq',
      value: sent + i,
    }));
    const posting = postUntilAccepted(apiUrl, points);
    rejected += await (opts.abort ? Promise.race([posting, opts.abort]) : posting);
    for (const p of points) accepted.add(p.id);
  }
  return { accepted, rejected };
}

/** A `bifrost run` config with no connector: the API on 127.0.0.1:`port` (plus `api` lines, indented under it) and an in-memory queue. */
export function apiOnlyConfig(port: number, api: readonly string[] = []): string {
  return [
    'gateway:',
    `  port: ${port}`,
    '  log_level: warn',
    '  api:',
    '    host: 127.0.0.1',
    ...api.map((l) => `    ${l}`),
    '  cloud:',
    '    queue:',
    '      memory_only: true',
    '',
  ].join('\n');
}
