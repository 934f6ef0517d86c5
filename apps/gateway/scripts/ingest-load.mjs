#!/usr/bin/env node
// Load and memory measurements of the built `bifrost run` (apps/gateway/dist) through its REST API
// into a testkit Mosquitto (its own process). Not a bench of record (`pnpm bench gateway` is): a
// reproducible probe for profiling and for before/after comparisons on one machine.
//
//   node scripts/ingest-load.mjs throughput [--seconds 10] [--connections 4] [--points 1000] [--format json|lp] [--cpu-prof dir]
//       REST bodies of --points points on --connections keep-alive connections for --seconds:
//       prints points/s accepted (answered 200, i.e. durably queued) and per CPU second of the gateway.
//   node scripts/ingest-load.mjs memory [--burst 1000000]
//       RSS of a bare `node` process and of the idle gateway, then --burst points posted while the
//       broker is down, the broker started again, the queue drained: RSS --settle seconds after the
//       drain (default 20), with the V8 heap and external memory from the gateway's /metrics.
//   --cli <path>: another build's dist/cli.js (a baseline worktree) for alternating comparisons.
//
// Run with the repo's Node (`pnpm exec node`); build first (`pnpm turbo run build --filter=@bifrost/gateway...`).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMosquitto } from '@bifrost/connector-testkit/peers';
import { fetch, Pool } from 'undici';

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '4' },
    points: { type: 'string', default: '1000' },
    format: { type: 'string', default: 'json' },
    burst: { type: 'string', default: '1000000' },
    settle: { type: 'string', default: '20' },
    'cpu-prof': { type: 'string' },
    'node-option': { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
    cli: { type: 'string', default: join(import.meta.dirname, '..', 'dist', 'cli.js') },
  },
});
const mode = positionals[0] ?? 'throughput';

/** CPU seconds (user + system) a process has used so far (from /proc). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Resident set size of a process, MB (from /proc). */
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** `count` points for one request body, device/tag names varied like a real plant's. */
function body(count, seq) {
  if (opts.format === 'lp') {
    // Line protocol: one field per line, so a body of `count` lines is `count` points.
    const lines = new Array(count);
    for (let i = 0; i < count; i++) lines[i] = `plc-${(seq + i) % 50},line=3 tag-${i % 20}=${(seq + i) * 0.5}`;
    return lines.join('\n');
  }
  const points = new Array(count);
  for (let i = 0; i < count; i++)
    points[i] = { deviceId: `plc-${(seq + i) % 50}`, tagName: `tag-${i % 20}`, value: (seq + i) * 0.5 };
  return JSON.stringify({ points });
}

async function startGateway(dir, brokerUrl) {
  const apiPort = await freePort();
  const config = join(dir, 'gateway.yaml');
  writeFileSync(
    config,
    [
      'gateway:',
      `  port: ${apiPort}`,
      '  log_level: warn',
      '  throughput_log_interval: 0',
      '  cloud:',
      '    batch_size: 5000',
      '    queue: { path: ./queue, sync: batch, max_points: 5000000 }',
      '    connectors:',
      '      broker:',
      '        type: mqtt',
      `        endpoint: ${brokerUrl}`,
      '        retry_delay: 200ms',
      '        retry: { max: 1s }',
      '        breaker: { failure_threshold: 1000, reset: 1s }',
      '        provider_config: { qos: 1, topic_prefix: load, client_id: bifrost-load, payload_format: json-batch }',
      '',
    ].join('\n'),
  );
  const args = [...opts['node-option']];
  if (opts['cpu-prof']) args.push('--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof']}`);
  const env = { ...process.env };
  for (const kv of opts.env) {
    const [k, ...v] = kv.split('=');
    env[k] = v.join('=');
  }
  const child = spawn(process.execPath, [...args, opts.cli, 'run', '-c', config], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  const url = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('gateway not ready after 30 s');
    await sleep(50);
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return { child, url, stop };
}

/** Posts `total` points (or for `seconds`) on `connections` connections; returns accepted points and elapsed s. */
async function load(url, { connections, perRequest, seconds, total }) {
  const pool = new Pool(url, { connections, pipelining: 1 });
  const bodies = Array.from({ length: 16 }, (_, k) => body(perRequest, k * perRequest));
  let accepted = 0;
  let refused = 0;
  let sent = 0;
  const start = performance.now();
  const end = seconds ? start + seconds * 1000 : Infinity;
  const worker = async () => {
    for (let k = 0; performance.now() < end && (total === undefined || sent < total); k++) {
      sent += perRequest;
      const res = await pool.request({
        path: opts.format === 'lp' ? '/write?db=load' : '/api/data',
        method: 'POST',
        headers: { 'content-type': opts.format === 'lp' ? 'text/plain' : 'application/json' },
        body: bodies[k % bodies.length],
      });
      await res.body.text();
      if (res.statusCode === 200 || res.statusCode === 204) accepted += perRequest;
      else {
        refused++;
        sent -= perRequest;
        await sleep(Number(res.headers['retry-after'] ?? 0.05) * 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - start) / 1000;
  await pool.close();
  return { accepted, refused, elapsed };
}

/**
 * RSS of a process by kind of mapping, MB: the node binary, glibc's brk heap, anonymous mappings of
 * 64 MiB and less (glibc's per-thread malloc arenas reserve 64 MiB each) and other anonymous memory
 * (V8's heap pages, large malloc blocks), other files.
 */
function rssByMapping(pid) {
  const sums = {};
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const size = parseInt(head[2], 16) - parseInt(head[1], 16);
      const name = head[3];
      kind = name.endsWith('/node')
        ? 'node binary'
        : name === '[heap]'
          ? 'malloc brk heap'
          : name === ''
            ? size === 64 * 1048576 || size === 128 * 1048576
              ? 'anon 64/128 MiB (malloc arenas)'
              : 'anon other'
            : 'other files';
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums[kind] = +((sums[kind] ?? 0) + Number(rss[1]) / 1024).toFixed(1);
  }
  return sums;
}

/** V8 heap and external memory of the gateway, MB (from its Prometheus process metrics). */
async function heapMb(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name) => Number(new RegExp(`^bifrost_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return {
    heap_total_mb: +metric('nodejs_heap_size_total_bytes').toFixed(1),
    heap_used_mb: +metric('nodejs_heap_size_used_bytes').toFixed(1),
    external_mb: +metric('nodejs_external_memory_bytes').toFixed(1),
  };
}

async function queueDepth(url) {
  const m = await (await fetch(`${url}/api/cloud/metrics`)).json();
  return m.connectors.reduce((n, c) => n + c.queue.depth + c.queue.inFlight, 0);
}

const dir = mkdtempSync(join(tmpdir(), 'bifrost-load-'));
const broker = await startMosquitto();
let gateway;
try {
  gateway = await startGateway(dir, broker.url);
  if (mode === 'throughput') {
    await load(gateway.url, { connections: 2, perRequest: Number(opts.points), seconds: 2 }); // warm-up
    const cpuBefore = cpuSeconds(gateway.child.pid);
    const r = await load(gateway.url, {
      connections: Number(opts.connections),
      perRequest: Number(opts.points),
      seconds: Number(opts.seconds),
    });
    console.log(
      JSON.stringify({
        mode,
        points_per_s: Math.round(r.accepted / r.elapsed),
        // Points per CPU second of the gateway: what ingest costs, less sensitive to a busy machine.
        points_per_cpu_s: Math.round(r.accepted / (cpuSeconds(gateway.child.pid) - cpuBefore)),
        refused: r.refused,
        rss_mb: rssMb(gateway.child.pid),
      }),
    );
  } else if (mode === 'memory') {
    const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await sleep(3000);
    const bareRss = rssMb(bare.pid);
    const bareByMapping = rssByMapping(bare.pid);
    bare.kill();
    await sleep(Number(opts.settle) * 1000);
    const idle = rssMb(gateway.child.pid);
    await broker.stop();
    const burst = await load(gateway.url, { connections: 4, perRequest: 1000, total: Number(opts.burst) });
    const peak = rssMb(gateway.child.pid);
    await broker.start();
    const drainStart = performance.now();
    while ((await queueDepth(gateway.url)) > 0) await sleep(250);
    const drainS = (performance.now() - drainStart) / 1000;
    await sleep(Number(opts.settle) * 1000);
    const after = rssMb(gateway.child.pid);
    const heap = await heapMb(gateway.url);
    console.log(
      JSON.stringify({
        mode,
        bare_node_rss_mb: +bareRss.toFixed(1),
        idle_rss_mb: +idle.toFixed(1),
        own_idle_mb: +(idle - bareRss).toFixed(1),
        burst_points: burst.accepted,
        burst_refused_requests: burst.refused,
        burst_points_per_s: Math.round(burst.accepted / burst.elapsed),
        rss_after_burst_mb: +peak.toFixed(1),
        drain_s: +drainS.toFixed(1),
        rss_after_drain_mb: +after.toFixed(1),
        after_drain_over_idle: +(after / idle).toFixed(2),
        ...heap,
        rss_by_mapping: rssByMapping(gateway.child.pid),
        bare_node_rss_by_mapping: bareByMapping,
      }),
    );
  } else throw new Error(`unknown mode ${mode}; use throughput or memory`);
} finally {
  await gateway?.stop();
  await broker.dispose();
  rmSync(dir, { recursive: true, force: true });
}
