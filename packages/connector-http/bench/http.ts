// `pnpm bench http`: durable end-to-end throughput (SQLite queue + core pipeline + this connector)
// beside a raw undici loop POSTing the same JSON batches to the same http-receiver in the same run.
// Each side first gets its best number of requests in flight; then rounds alternate ours with the
// delivery defaults, ours tuned and raw, and the result reports the median and range of the rounds.
import { Pool } from 'undici';
import http, { httpConfigSchema } from '@bifrost/connector-http';
import { createTlsFixture, startHttpReceiver } from '@bifrost/connector-testkit/peers';
import {
  chunk,
  concurrentLoop,
  connectorCases,
  makePoints,
  pipelineThroughput,
  writeResults,
  type BenchCase,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';

const POINTS = Number(process.env.BENCH_POINTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const WINDOWS = (process.env.BENCH_WINDOWS ?? '1,2,4,8,16,32,64').split(',').map(Number);
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

/** Ours tuned opens as many connections as batches in flight; the defaults leave both unset. */
async function ours(t: 'h1' | 'h2', delivery: DeliveryOptionsInput): Promise<number> {
  const rate = await pipelineThroughput({
    definition: http,
    config: httpConfigSchema.parse({
      endpoint: urlOf(t),
      ...(delivery.maxInFlight !== undefined && { connections: delivery.maxInFlight }),
    }),
    ...(t === 'h2' && { tls: tls.clientTls('tls') }),
    points: makePoints(POINTS),
    delivery,
  });
  await checkAndReset('ours');
  return rate;
}

try {
  const cases: BenchCase[] = [];
  for (const t of TRANSPORTS) {
    // Warm-up (JIT, sockets, TLS, SQLite) on both sides, not recorded.
    await raw(t, 2);
    await ours(t, {});
    const wire = t === 'h1' ? 'HTTP/1.1' : 'HTTPS with HTTP/2 (ALPN)';
    cases.push(
      ...(await connectorCases({
        ours: `durable e2e (SQLite queue sync=batch + pipeline + connector, body json) over ${wire}`,
        raw: 'undici Pool POST loop of JSON.stringify(batch)',
        batches: [BATCH],
        windows: WINDOWS,
        rounds: ROUNDS,
        capabilities: http.capabilities,
        runRaw: (_batch, w) => raw(t, w),
        runOurs: (d) => ours(t, d),
      })),
    );
  }
  writeResults('http', cases, { points: POINTS });
} finally {
  await rx.dispose();
  tls.dispose();
}
