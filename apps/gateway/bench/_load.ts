// What the end-to-end benches (`gateway`, `peers`) share: the products as child processes, their
// CPU and memory from /proc, an HTTP load generator (undici, several connections) and the counting
// subscriber on its own thread. Erasable TypeScript only (Node type stripping).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { freePort, waitUntil } from '../test/support/net.ts';

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const TICKS_PER_S = 100;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Resident memory of a process, MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 102.4) / 10;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** A product under test as a child process in its own temp dir. */
export interface Product {
  readonly name: string;
  readonly pid: number;
  /** Base URL of its HTTP ingest (`http://127.0.0.1:<port>`). */
  readonly url: string;
  readonly dir: string;
  stop(): Promise<void>;
}

async function startChild(
  name: string,
  cmd: string,
  args: (dir: string) => string[],
  files: (dir: string) => Record<string, string>,
  port: number,
  ready: (url: string) => Promise<boolean>,
): Promise<Product> {
  const dir = mkdtempSync(join(tmpdir(), `bifrost-bench-${name}-`));
  for (const [f, text] of Object.entries(files(dir))) writeFileSync(join(dir, f), text);
  let log = '';
  const child: ChildProcess = spawn(cmd, args(dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    `${name} ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${log}`);
      return ready(url).catch(() => false);
    },
    30_000,
  );
  return {
    name,
    pid: child.pid!,
    url,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Settings of a `bifrost run` under test: its MQTT or InfluxDB connector and, when tuned, the delivery settings. */
export interface BifrostSettings {
  /** YAML lines of the one connector (indented eight spaces, under `connectors.out:`). */
  connector: readonly string[];
  /** Extra lines under `cloud:` (indented four spaces), e.g. `batch_size: 5000`. */
  cloud?: readonly string[];
}

/** `bifrost run` (the built CLI) with a temp config: REST on a free port, a durable SQLite queue in its temp dir. */
export async function startBifrost(s: BifrostSettings): Promise<Product> {
  const port = await freePort();
  const config = (dir: string) =>
    [
      'gateway:',
      `  port: ${port}`,
      '  log_level: warn',
      '  throughput_log_interval: 0',
      '  api:',
      '    host: 127.0.0.1',
      '  cloud:',
      ...(s.cloud ?? []).map((l) => `    ${l}`),
      '    queue:',
      `      path: ${join(dir, 'data')}`,
      '    connectors:',
      '      out:',
      ...s.connector.map((l) => `        ${l}`),
      '',
    ].join('\n');
  return startChild(
    'bifrost',
    process.execPath,
    (dir) => [CLI, 'run', '-c', join(dir, 'gateway.yaml')],
    (dir) => ({ 'gateway.yaml': config(dir) }),
    port,
    (url) => fetch(`${url}/ready`).then((r) => r.ok),
  );
}

/** Telegraf with `inputs.http_listener_v2` (line protocol) and the given output and agent lines. */
export async function startTelegraf(
  binary: string,
  agent: readonly string[],
  output: readonly string[],
): Promise<Product> {
  const port = await freePort();
  const config = (dir: string) =>
    [
      '[agent]',
      '  omit_hostname = true',
      '  quiet = true',
      ...agent.map((l) => `  ${l.replaceAll('$DIR', dir)}`),
      '[[inputs.http_listener_v2]]',
      `  service_address = "tcp://127.0.0.1:${port}"`,
      '  paths = ["/write"]',
      '  data_format = "influx"',
      ...output,
      '',
    ].join('\n');
  return startChild(
    'telegraf',
    binary,
    (dir) => ['--config', join(dir, 'telegraf.conf')],
    (dir) => ({ 'telegraf.conf': config(dir) }),
    port,
    // The listener answers 405 to GET once it is up.
    (url) => fetch(`${url}/write`).then((r) => r.status > 0),
  );
}

/** RSS of a bare `node` process (this repo's Node) doing nothing, MB: what any Node program pays. */
export async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(1500);
    return rssMb(child.pid!);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** The counting subscriber (./_subscriber.ts) on its own thread. */
export class Counter {
  private readonly worker: Worker;
  private constructor(worker: Worker) {
    this.worker = worker;
  }

  static async start(url: string, topic: string): Promise<Counter> {
    const worker = new Worker(new URL('./_subscriber.ts', import.meta.url), { workerData: { url, topic } });
    const c = new Counter(worker);
    const ready = (await c.ask('ready', undefined)) as { error?: string };
    if (ready.error) throw new Error(`subscriber: ${ready.error}`);
    return c;
  }

  private ask(type: string, send: string | undefined): Promise<unknown> {
    return new Promise((resolve) => {
      const on = (m: { type: string }) => {
        if (m.type !== type) return;
        this.worker.off('message', on);
        resolve(m);
      };
      this.worker.on('message', on);
      if (send) this.worker.postMessage({ type: send });
    });
  }

  reset = () => this.ask('reset', 'reset');
  count = () => this.ask('count', 'count') as Promise<{ count: number; lastAt: number }>;
  report = () =>
    this.ask('report', 'report') as Promise<{ count: number; duplicates: number; lastAt: number; latencies: number[] }>;

  async close(): Promise<void> {
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage({ type: 'close' });
    await Promise.race([exited, sleep(2000).then(() => this.worker.terminate())]);
  }
}

/** The wire format of a request body: Bifrost's JSON points, or InfluxDB line protocol (Telegraf). */
export type BodyFormat = 'json' | 'line';

let runSeq = 0;

/**
 * `n` points from index `first` of run `run`, each carrying its send time `sent` (epoch ms) for the
 * subscriber's latency: in `value` (Bifrost) or the `sent` field (line protocol); tag `run` names the
 * run (for counting in InfluxDB).
 */
export function body(format: BodyFormat, run: number, first: number, n: number, sent: number): string {
  // Unique per point (InfluxDB keeps one point per series and timestamp), one run 10,000 s apart.
  const base = 1_700_000_000_000 + run * 10_000_000;
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const k = first + i;
    const device = `PLC${String(k % 50).padStart(3, '0')}`;
    parts[i] =
      format === 'json'
        ? `{"id":"r${run}-${k}","deviceId":"${device}","tagName":"temperature","value":${sent},"quality":"GOOD","timestamp":${base + k},"unit":"C","tags":{"run":"r${run}"}}`
        : `reading,device_id=${device},tag_name=temperature,quality=GOOD,run=r${run} point_id="r${run}-${k}",sent=${sent} ${base + k}000000`;
  }
  return format === 'json' ? `[${parts.join(',')}]` : parts.join('\n');
}

/** One load run's result: delivered rate, latency percentiles and the target's CPU and peak RSS. */
export interface LoadResult {
  points_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU of the product over the run, percent of one core. */
  cpu_percent: number;
  /** Peak RSS of the product during the run, MB. */
  rss_mb: number;
  /** Points sent (all answered 2xx) and points the counter saw. */
  offered: number;
  delivered: number;
  duplicates: number;
  /** Requests answered 503 (back-pressure) or whose connection the server closed, sent again. */
  retried: number;
  /** CPU of this bench process (load generator and subscriber thread), percent of one core. */
  bench_cpu_percent: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN) * 100) / 100;
}

/**
 * Offers `points` points to `product` in requests of `perRequest` over `connections` keep-alive
 * connections (closed loop, or paced at `ratePerS` points/s), then waits until the counting
 * subscriber has every id (or `count` says delivery stopped for 10 s). Delivered points/s run from
 * the first request to the last delivery. `count` defaults to the MQTT subscriber's.
 */
export async function offer(opts: {
  product: Product;
  path: string;
  format: BodyFormat;
  points: number;
  perRequest: number;
  connections: number;
  ratePerS?: number;
  counter?: Counter;
  /** Delivered count and time of the last delivery (epoch ms) when there is no MQTT subscriber. */
  count?: (run: string) => Promise<{ count: number; lastAt: number }>;
  /** How often the count is read while waiting for delivery (default 20 ms). */
  pollMs?: number;
}): Promise<LoadResult> {
  const run = ++runSeq;
  await opts.counter?.reset();
  const count = opts.count ? () => opts.count!(`r${run}`) : () => opts.counter!.count();
  const pool = new Pool(opts.product.url, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const requests = Math.ceil(opts.points / opts.perRequest);
  const contentType = opts.format === 'json' ? 'application/json' : 'text/plain; charset=utf-8';
  let peakRss = rssMb(opts.product.pid);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(opts.product.pid))), 100);
  const cpu0 = cpuSeconds(opts.product.pid);
  const ownCpu0 = process.cpuUsage();
  const t0 = now();
  let next = 0;
  let retried = 0;
  try {
    await Promise.all(
      Array.from({ length: opts.connections }, async () => {
        for (let r = next++; r < requests; r = next++) {
          if (opts.ratePerS) {
            const due = t0 + ((r * opts.perRequest) / opts.ratePerS) * 1000 - now();
            if (due > 0) await sleep(due);
          }
          const first = r * opts.perRequest;
          const n = Math.min(opts.perRequest, opts.points - first);
          for (;;) {
            const res = await pool
              .request({
                path: opts.path,
                method: 'POST',
                headers: { 'content-type': contentType },
                body: body(opts.format, run, first, n, now()),
              })
              // A server closing the connection (Telegraf's listener times slow requests out) is
              // answered as a client would: send again (the counter counts each id once).
              .catch((err: unknown) => {
                if ((err as { code?: string }).code !== 'UND_ERR_SOCKET') throw err;
                return undefined;
              });
            const text = (await res?.body.text()) ?? '';
            if (res && res.statusCode < 300) break;
            if (res && res.statusCode !== 503)
              throw new Error(`${opts.product.name}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
            retried++;
            await sleep(10);
          }
        }
      }),
    );
    let last = await count();
    let progressAt = now();
    while (last.count < opts.points && now() - progressAt < 10_000) {
      await sleep(opts.pollMs ?? 20);
      const c = await count();
      if (c.count > last.count) progressAt = now();
      last = c;
    }
    const cpu = cpuSeconds(opts.product.pid) - cpu0;
    const ownCpu = process.cpuUsage(ownCpu0);
    const end = last.lastAt || now();
    const seconds = (end - t0) / 1000;
    const report = opts.counter ? await opts.counter.report() : undefined;
    const latencies = (report?.latencies ?? []).sort((a, b) => a - b);
    return {
      points_per_s: Math.round(last.count / seconds),
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      cpu_percent: Math.round((cpu / seconds) * 100),
      bench_cpu_percent: Math.round((ownCpu.user + ownCpu.system) / 1e4 / seconds),
      rss_mb: peakRss,
      offered: opts.points,
      delivered: last.count,
      duplicates: report?.duplicates ?? 0,
      retried,
    };
  } finally {
    clearInterval(sampler);
    await pool.close();
  }
}

/** A delivered count read from a store (e.g. a query), with the time it last grew, for `offer({ count })`. */
export function growingCount(
  read: (run: string) => Promise<number>,
): (run: string) => Promise<{ count: number; lastAt: number }> {
  let last = -1;
  let lastAt = 0;
  return async (run) => {
    const count = await read(run);
    if (count !== last) [last, lastAt] = [count, now()];
    return { count, lastAt };
  };
}
