// `pnpm bench gateway`: the product through its front door. `bifrost run` (the built CLI, a child
// process with a temp config: REST, durable SQLite queue sync=batch, MQTT connector at QoS 1) takes
// HTTP POSTs of 1 and of 1000 points per request over several undici connections and delivers into
// Mosquitto, where an independent subscriber (its own thread) counts the ids. Reports delivered
// points/s, ingest-to-delivery p50/p99, the gateway's CPU and peak RSS, with the settings a user gets
// (defaults) and tuned, alternating rounds, median and range. Then memory: RSS idle, RSS of a bare
// `node` in the same run (median of fresh gateways, each beside a bare node), and RSS after a
// 1M-point burst with the broker down, then drained.
// No baseline here: Telegraf beside us is `pnpm bench peers`.
import { startMosquitto, type MosquittoPeer } from '@bifrost/connector-testkit/peers';
import { alternate, machineLoad, spread, writeResults, type BenchCase } from '@bifrost/connector-testkit/bench';
import {
  bareNodeRss,
  Counter,
  offer,
  rssMb,
  sleep,
  startBifrost,
  type BifrostSettings,
  type LoadResult,
  type Product,
} from './_load.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SINGLE_POINTS = Number(process.env.BENCH_SINGLE_POINTS ?? 30_000);
const BATCH_POINTS = Number(process.env.BENCH_BATCH_POINTS ?? 500_000);
const BURST = Number(process.env.BENCH_BURST ?? 1_000_000);
const IDLE_ROUNDS = Number(process.env.BENCH_IDLE_ROUNDS ?? 5);
const CONNECTIONS = 8;
/** RSS after a burst is read this long after it: the gateway trims its heap once it has been quiet for 10 s (heap-trimmer.ts). */
const SETTLED_S = 15;
/** `BENCH_PARTS=memory` (or `throughput`) runs one part only; default both. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'throughput,memory').split(',').map((p) => p.trim()));
for (const p of PARTS)
  if (p !== 'throughput' && p !== 'memory') throw new Error(`BENCH_PARTS: unknown part "${p}" (throughput, memory)`);

/** The MQTT connector as a user writes it; `payload_format` chooses one message per point or per batch. */
function mqttConnector(url: string, format: 'json' | 'json-batch', tuned: boolean): BifrostSettings {
  return {
    connector: [
      'type: mqtt',
      `endpoint: ${url}`,
      ...(tuned ? ['max_in_flight: 4'] : []),
      'provider_config:',
      '  qos: 1',
      '  topic_prefix: bench',
      `  payload_format: ${format}`,
    ],
    ...(tuned && { cloud: ['batch_size: 5000', 'batch_timeout: 5ms'] }),
  };
}
const TUNED = 'tuned (batch_size 5000, batch_timeout 5ms, max_in_flight 4)';
const DEFAULTS = 'defaults (batch_size 1000, batch_timeout 1s, max_in_flight 2)';

/** A row of one product setting: medians and ranges of its rounds (no baseline: see peers.json). */
function solo(name: string, runs: readonly LoadResult[], offered: number): BenchCase {
  const rate = spread(runs.map((r) => r.points_per_s));
  const med = (f: (r: LoadResult) => number) => spread(runs.map(f)).median;
  return {
    case: name,
    points_per_s: rate.median,
    points_per_s_min: rate.min,
    points_per_s_max: rate.max,
    p50_ms: med((r) => r.p50_ms),
    p99_ms: med((r) => r.p99_ms),
    p99_ms_max: Math.max(...runs.map((r) => r.p99_ms)),
    cpu_percent: med((r) => r.cpu_percent),
    bench_cpu_percent: med((r) => r.bench_cpu_percent),
    rss_mb: med((r) => r.rss_mb),
    rounds: runs.length,
    points_offered: offered,
    lost: Math.max(...runs.map((r) => r.offered - r.delivered)),
    duplicates: Math.max(...runs.map((r) => r.duplicates)),
    note: `no baseline (Telegraf beside us: peers.json); CPU in % of one core (bench_cpu_percent: load generator + subscriber), RSS = peak during the run; ${machineLoad()}`,
  };
}

/** Rounds alternating the gateway with defaults and tuned on the same load. */
async function throughput(
  broker: MosquittoPeer,
  counter: Counter,
  format: 'json' | 'json-batch',
  perRequest: number,
  points: number,
): Promise<BenchCase[]> {
  const defaults = await startBifrost(mqttConnector(broker.url, format, false));
  const tuned = await startBifrost(mqttConnector(broker.url, format, true));
  try {
    const load = (product: Product) =>
      offer({ product, path: '/api/data', format: 'json', points, perRequest, connections: CONNECTIONS, counter });
    // Warm-up (JIT, sockets, SQLite), not recorded.
    await load(defaults);
    await load(tuned);
    const runs = { defaults: [] as LoadResult[], tuned: [] as LoadResult[] };
    await alternate(
      ROUNDS,
      {
        defaults: async () => (runs.defaults[runs.defaults.length] = await load(defaults)).points_per_s,
        tuned: async () => (runs.tuned[runs.tuned.length] = await load(tuned)).points_per_s,
      },
      (round, x) =>
        console.log(
          `${format} ${perRequest}/request round ${round}: defaults ${x.defaults}, tuned ${x.tuned} points/s`,
        ),
    );
    const what = `REST ${perRequest} point${perRequest > 1 ? 's' : ''} per request (${CONNECTIONS} connections) -> bifrost run (SQLite queue sync=batch) -> MQTT QoS 1 ${format === 'json' ? 'json (1 point per message)' : 'json-batch'}, Mosquitto`;
    return [solo(`${what}, ${DEFAULTS}`, runs.defaults, points), solo(`${what}, ${TUNED}`, runs.tuned, points)];
  } finally {
    await defaults.stop();
    await tuned.stop();
  }
}

/**
 * Idle RSS of IDLE_ROUNDS fresh gateways, each beside a bare node started right after it; then RSS
 * after a BURST-point burst with the broker down, then drained, in the last round's gateway.
 */
async function memory(): Promise<BenchCase[]> {
  const broker = await startMosquitto();
  await broker.stop();
  const idleRss: number[] = [];
  const bareRss: number[] = [];
  const idleGateway = async () => {
    const gw = await startBifrost(mqttConnector(broker.url, 'json-batch', false));
    await sleep(5000);
    idleRss.push(rssMb(gw.pid));
    bareRss.push(await bareNodeRss());
    return gw;
  };
  for (let round = 1; round < IDLE_ROUNDS; round++) await (await idleGateway()).stop();
  const gw = await idleGateway();
  try {
    const idle = idleRss[idleRss.length - 1]!;
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(gw.pid))), 100);
    // The burst: BURST points in 1000-point requests while the broker is down; all queued.
    const down = offer({
      product: gw,
      path: '/api/data',
      format: 'json',
      points: BURST,
      perRequest: 1000,
      connections: CONNECTIONS,
      count: () => Promise.resolve({ count: BURST, lastAt: 0 }),
    });
    const burst = await down;
    await sleep(SETTLED_S * 1000);
    const afterBurst = rssMb(gw.pid);
    await broker.start();
    const counter = await Counter.start(broker.url, 'bench/#');
    const drainStart = performance.now();
    for (let c = await counter.count(); c.count < BURST; c = await counter.count()) {
      if (performance.now() - drainStart > 300_000) throw new Error(`drain stalled at ${c.count} of ${BURST}`);
      await sleep(200);
    }
    const drainS = (performance.now() - drainStart) / 1000;
    await counter.close();
    await sleep(SETTLED_S * 1000);
    clearInterval(sampler);
    const drained = rssMb(gw.pid);
    const row = (name: string, rss: number, note: string): BenchCase => ({
      case: name,
      points_per_s: 0,
      rss_mb: rss,
      note: `${note}; ${machineLoad()}`,
    });
    const rounds = (name: string, xs: number[], note: string): BenchCase => {
      const { median, min, max } = spread(xs);
      return {
        ...row(name, median, `${note}; median of ${xs.length} rounds`),
        rss_mb_min: min,
        rss_mb_max: max,
        rounds: xs.length,
      };
    };
    return [
      rounds(
        'RSS idle: bifrost run (REST + MQTT connector + SQLite queue), 5 s after start',
        idleRss,
        'total RSS, a fresh gateway per round',
      ),
      rounds(
        'RSS bare node: `node -e setInterval(...)` in the same run',
        bareRss,
        "what any Node process pays, started after each round's gateway",
      ),
      rounds(
        "RSS idle minus bare node: the gateway's own idle memory",
        idleRss.map((x, i) => Math.round((x - bareRss[i]!) * 10) / 10),
        'idle RSS minus the bare node RSS of the same round',
      ),
      row(
        `RSS after burst of ${BURST} points (REST 1000 points per request), broker down, ${SETTLED_S} s later`,
        afterBurst,
        `burst ingested at ${burst.points_per_s} points/s (${burst.retried} requests answered 503 and resent); peak during burst and drain ${peak} MB; ${Math.round((afterBurst / idle) * 100) / 100}x idle`,
      ),
      row(
        `RSS after burst of ${BURST} points, broker up, drained, ${SETTLED_S} s later`,
        drained,
        `drained in ${drainS.toFixed(1)} s; ${Math.round((drained / idle) * 100) / 100}x idle`,
      ),
    ];
  } finally {
    await gw.stop();
    await broker.dispose();
  }
}

const cases: BenchCase[] = [];
if (PARTS.has('throughput')) {
  const broker = await startMosquitto();
  const counter = await Counter.start(broker.url, 'bench/#');
  try {
    cases.push(...(await throughput(broker, counter, 'json', 1, SINGLE_POINTS)));
    cases.push(...(await throughput(broker, counter, 'json-batch', 1000, BATCH_POINTS)));
    cases.push(...(await throughput(broker, counter, 'json', 1000, BATCH_POINTS / 5)));
  } finally {
    await counter.close();
    await broker.dispose();
  }
}
if (PARTS.has('memory')) cases.push(...(await memory()));
// A partial run prints its rows and leaves bench/results/gateway.json as the last full run wrote it.
if (PARTS.size === 2) writeResults('gateway', cases, { rounds: ROUNDS });
else console.log(JSON.stringify(cases, null, 2));
process.exit(0);
