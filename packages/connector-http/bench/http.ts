// `pnpm bench http`: durable end-to-end throughput (SQLite queue + core pipeline + this connector)
// beside a raw undici loop POSTing the same JSON batches to the same http-receiver in the same run.
// Each side first gets its best number of requests in flight; then rounds alternate raw and ours at
// those settings, and the result reports the median and range of the rounds.
import { Pool } from 'undici';
import http, { httpConfigSchema } from '@bifrost/connector-http';
import { createTlsFixture, startHttpReceiver } from '@bifrost/connector-testkit/peers';
import {
  benchCase,
  chunk,
  concurrentLoop,
  makePoints,
  pipelineThroughput,
  writeResults,
  type BenchCase,
} from '@bifrost/connector-testkit/bench';

const POINTS = Number(process.env.BENCH_POINTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const WINDOWS = (process.env.BENCH_WINDOWS ?? '1,2,4,8').split(',').map(Number);
const tls = createTlsFixture();
const rx = await startHttpReceiver({ tls: tls.serverTls() });
/** The transports compared: plain HTTP/1.1, and HTTPS where both sides negotiate HTTP/2. */
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'h1,h2').split(',') as Array<'h1' | 'h2'>;
const urlOf = (t: 'h1' | 'h2') => (t === 'h1' ? rx.url : rx.httpsUrl);

/** Zero loss: every point reached the receiver (and was answered 2xx), then the receiver is emptied. */
async function checkAndReset(side: string): Promise<void> {
  const s = await rx.stats();
  if (s.distinctIds !== POINTS) throw new Error(`${side}: ${s.distinctIds} of ${POINTS} points at the receiver`);
  await rx.reset();
}

/** What a user of undici writes: a keep-alive pool, JSON.stringify of the batch, `window` POSTs in flight. */
async function raw(t: 'h1' | 'h2', window: number): Promise<number> {
  const url = new URL(urlOf(t));
  const pool = new Pool(url.origin, {
    connections: window,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    ...(t === 'h2' && { allowH2: true, connect: { ca: tls.ca.cert, servername: 'localhost' } }),
  });
  try {
    const rate = await concurrentLoop(chunk(makePoints(POINTS), BATCH), window, async (batch) => {
      const res = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`raw: HTTP ${res.statusCode}`);
    });
    await checkAndReset('raw');
    return rate;
  } finally {
    await pool.close();
  }
}

async function ours(t: 'h1' | 'h2', window: number): Promise<number> {
  const rate = await pipelineThroughput({
    definition: http,
    config: httpConfigSchema.parse({ endpoint: urlOf(t), connections: window }),
    ...(t === 'h2' && { tls: tls.clientTls('tls') }),
    points: makePoints(POINTS),
    delivery: { batchSize: BATCH, maxInFlight: window, flushIntervalMs: 5 },
  });
  await checkAndReset('ours');
  return rate;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const hi = s[s.length >> 1];
  const lo = s[(s.length - 1) >> 1];
  if (hi === undefined || lo === undefined) throw new Error('median of no samples');
  return (lo + hi) / 2;
}

type Case = BenchCase & {
  transport: string;
  rounds: number;
  points_per_run: number;
  points_per_s_range: [number, number];
  baseline_points_per_s_range: [number, number];
  round_ratios: number[];
};

/** Tunes each side's window on transport `t`, then runs alternating rounds at those windows. */
async function measure(t: 'h1' | 'h2'): Promise<Case> {
  // Warm-up (JIT, sockets, TLS, SQLite) on both sides, not recorded.
  await raw(t, 2);
  await ours(t, 2);
  const tuning: Record<number, { raw: number; ours: number }> = {};
  for (const w of WINDOWS) tuning[w] = { raw: await raw(t, w), ours: await ours(t, w) };
  const best = (side: 'raw' | 'ours') =>
    WINDOWS.reduce((a, b) => (tuning[b]![side] > tuning[a]![side] ? b : a), WINDOWS[0]!);
  const rawWindow = best('raw');
  const ourWindow = best('ours');
  console.log(
    `${t} tuning (points/s by requests in flight): ${WINDOWS.map((w) => `${w}: raw ${Math.round(tuning[w]!.raw)}, ours ${Math.round(tuning[w]!.ours)}`).join('; ')}`,
  );
  const rawRounds: number[] = [];
  const ourRounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rawRounds.push(await raw(t, rawWindow));
    ourRounds.push(await ours(t, ourWindow));
    console.log(`${t} round ${round + 1}: raw ${Math.round(rawRounds.at(-1)!)}, ours ${Math.round(ourRounds.at(-1)!)}`);
  }
  const wire = t === 'h1' ? 'HTTP/1.1' : 'HTTPS with HTTP/2 (ALPN)';
  return {
    ...benchCase(
      `durable e2e (SQLite queue sync=batch + pipeline + connector, body json) over ${wire}, batch ${BATCH}, ${ourWindow} in flight; raw: undici Pool POST loop of JSON.stringify(batch), ${rawWindow} in flight; median of ${ROUNDS} alternating rounds`,
      median(ourRounds),
      median(rawRounds),
    ),
    transport: t,
    rounds: ROUNDS,
    points_per_run: POINTS,
    points_per_s_range: [Math.round(Math.min(...ourRounds)), Math.round(Math.max(...ourRounds))],
    baseline_points_per_s_range: [Math.round(Math.min(...rawRounds)), Math.round(Math.max(...rawRounds))],
    round_ratios: ourRounds.map((o, i) => Math.round((o / rawRounds[i]!) * 100) / 100),
  };
}

try {
  const cases: Case[] = [];
  for (const t of TRANSPORTS) cases.push(await measure(t));
  writeResults('http', cases);
  for (const c of cases)
    console.log(
      `${c.transport}: ours ${c.points_per_s_range.join('-')} points/s, raw ${c.baseline_points_per_s_range.join('-')} points/s; per-round ratios ${c.round_ratios.join(', ')}`,
    );
} finally {
  await rx.dispose();
  tls.dispose();
}
