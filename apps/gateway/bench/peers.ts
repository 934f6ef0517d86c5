// `pnpm bench peers`: Bifrost beside Telegraf 1.37 (scripts/peers/telegraf.sh) on the same loads, in
// alternating rounds, counted independently. REST to MQTT (Mosquitto, QoS 1, counted by a subscriber
// thread): one point per message, and batched messages at an offered 100k points/s; REST to InfluxDB
// 1.8 (counted by queries). Bifrost is `bifrost run` (durable SQLite queue sync=batch) fed JSON points
// on POST /api/data; Telegraf is inputs.http_listener_v2 fed the same points as line protocol, with
// its memory buffer (and, one point per message, its disk buffer). ratio = Bifrost / Telegraf.
// How each side acknowledges: Bifrost answers the POST after the points are committed to its queue;
// Telegraf answers before the metrics reach its buffer (a crash loses what it acknowledged).
import { findBinary, startInflux, startMosquitto } from '@bifrost/connector-testkit/peers';
import {
  alternate,
  compareRounds,
  machineLoad,
  spread,
  writeResults,
  type BenchCase,
} from '@bifrost/connector-testkit/bench';
import {
  Counter,
  growingCount,
  offer,
  startBifrost,
  startTelegraf,
  type BifrostSettings,
  type LoadResult,
  type Product,
} from './_load.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MQTT_POINTS = Number(process.env.BENCH_MQTT_POINTS ?? 50_000);
const PACED_POINTS = Number(process.env.BENCH_PACED_POINTS ?? 300_000);
const PACED_RATE = 100_000;
const INFLUX_POINTS = Number(process.env.BENCH_INFLUX_POINTS ?? 200_000);
const PER_REQUEST = 1000;
const CONNECTIONS = 8;

const telegrafBin = findBinary('telegraf');
if (!telegrafBin) throw new Error('telegraf not found: run scripts/peers/telegraf.sh');

/** Telegraf's agent: 1000-metric batches, a buffer that holds every run (no drops), 1 s flush; memory or disk buffer. */
const telegrafAgent = (buffer: 'memory' | 'disk') => [
  'metric_batch_size = 1000',
  'metric_buffer_limit = 1000000',
  'flush_interval = "1s"',
  'flush_jitter = "0s"',
  ...(buffer === 'disk' ? ['buffer_strategy = "disk"', 'buffer_directory = "$DIR/buffer"'] : []),
];
const TELEGRAF_SETTINGS = 'metric_batch_size 1000, metric_buffer_limit 1000000, flush_interval 1s';
const BIFROST_TUNED: BifrostSettings['cloud'] = ['batch_size: 5000', 'batch_timeout: 5ms'];
const BIFROST_SETTINGS = 'batch_size 5000, batch_timeout 5ms, max_in_flight 4';

interface Side {
  label: string;
  product: Product;
  path: string;
  format: 'json' | 'line';
}

const bifrost = async (connector: string[]): Promise<Side> => ({
  label: `bifrost (${BIFROST_SETTINGS})`,
  product: await startBifrost({ connector: [...connector, 'max_in_flight: 4'], cloud: BIFROST_TUNED }),
  path: '/api/data',
  format: 'json',
});
const telegraf = async (buffer: 'memory' | 'disk', output: string[]): Promise<Side> => ({
  label: `telegraf ${buffer} buffer (${TELEGRAF_SETTINGS})`,
  product: await startTelegraf(telegrafBin, telegrafAgent(buffer), output),
  path: '/write',
  format: 'line',
});

type Variant = 'memory' | 'disk';

/**
 * Alternating rounds of Bifrost and each Telegraf variant (memory buffer, and disk buffer where
 * given) on one load; a row per Telegraf variant with Bifrost's samples against it. The warm-up run
 * of each side (not recorded) offers a tenth of the load.
 */
async function compare(
  load: string,
  ours: Side,
  telegrafs: Partial<Record<Variant, Side>>,
  run: (s: Side, scale: number) => Promise<LoadResult>,
): Promise<BenchCase[]> {
  const variants = Object.keys(telegrafs) as Variant[];
  const sides: Record<string, Side> = { ours, ...telegrafs };
  const runs: Record<string, LoadResult[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  const measure = (k: string) => async () => {
    const r = await run(sides[k]!, 1);
    runs[k]!.push(r);
    return r.points_per_s;
  };
  try {
    for (const s of Object.values(sides)) await run(s, 0.1);
    const s = await alternate(ROUNDS, Object.fromEntries(Object.keys(sides).map((k) => [k, measure(k)])), (round, x) =>
      console.log(`${load} round ${round}: ${JSON.stringify(x)} points/s`),
    );
    const detail = (rs: LoadResult[], prefix: string) => ({
      [`${prefix}p50_ms`]: spread(rs.map((r) => r.p50_ms)).median,
      [`${prefix}p99_ms`]: spread(rs.map((r) => r.p99_ms)).median,
      [`${prefix}cpu_percent`]: spread(rs.map((r) => r.cpu_percent)).median,
      [`${prefix}rss_mb`]: spread(rs.map((r) => r.rss_mb)).median,
      [`${prefix}lost`]: Math.max(...rs.map((r) => r.offered - r.delivered)),
      [`${prefix}requests_resent`]: Math.max(...rs.map((r) => r.retried)),
    });
    return variants.map((t) =>
      compareRounds(`${load}: ${ours.label} vs ${sides[t]!.label}`, s.ours!, s[t]!, {
        ...detail(runs.ours!, ''),
        ...detail(runs[t]!, 'baseline_'),
        note: `ratio = bifrost / telegraf; medians of ${ROUNDS} alternating rounds; latency = POST sent to point at the subscriber; CPU % of one core, RSS peak; ${machineLoad()}`,
      }),
    );
  } finally {
    for (const side of Object.values(sides)) await side.product.stop();
  }
}

const cases: BenchCase[] = [];
const broker = await startMosquitto();
const counter = await Counter.start(broker.url, '#');
const mqttOut = (layout: 'non-batch' | 'batch') => [
  '[[outputs.mqtt]]',
  `  servers = ["${broker.url.replace('mqtt://', 'tcp://')}"]`,
  `  topic = 'telegraf/{{ .Tag "device_id" }}/{{ .Name }}'`,
  '  qos = 1',
  `  layout = "${layout}"`,
  '  data_format = "json"',
];
const mqttConnector = (format: 'json' | 'json-batch') => [
  'type: mqtt',
  `endpoint: ${broker.url}`,
  'provider_config:',
  '  qos: 1',
  '  topic_prefix: bench',
  `  payload_format: ${format}`,
];
try {
  cases.push(
    ...(await compare(
      `REST ${PER_REQUEST} points per request (${CONNECTIONS} connections) -> MQTT QoS 1, one point per message, ${MQTT_POINTS} points as fast as taken`,
      await bifrost(mqttConnector('json')),
      { memory: await telegraf('memory', mqttOut('non-batch')), disk: await telegraf('disk', mqttOut('non-batch')) },
      (s, scale) =>
        offer({ ...s, points: MQTT_POINTS * scale, perRequest: PER_REQUEST, connections: CONNECTIONS, counter }),
    )),
  );
  cases.push(
    ...(await compare(
      `REST ${PER_REQUEST} points per request -> MQTT QoS 1, batched messages (bifrost json-batch, telegraf layout batch), ${PACED_POINTS} points offered at ${PACED_RATE} points/s`,
      await bifrost(mqttConnector('json-batch')),
      { memory: await telegraf('memory', mqttOut('batch')) },
      (s, scale) =>
        offer({
          ...s,
          points: PACED_POINTS * scale,
          perRequest: PER_REQUEST,
          connections: CONNECTIONS,
          ratePerS: PACED_RATE,
          counter,
        }),
    )),
  );
} finally {
  await counter.close();
  await broker.dispose();
}

const influx = await startInflux();
try {
  const { username, password } = influx.admin;
  await influx.query('CREATE DATABASE "telegraf"');
  const counted = (db: string) =>
    growingCount(async (run) => {
      const [row] = await influx.query(`SELECT count(point_id) FROM reading WHERE "run" = '${run}'`, db);
      return Number(row?.count ?? 0);
    });
  const influxOut = [
    '[[outputs.influxdb]]',
    `  urls = ["${influx.url}"]`,
    '  database = "telegraf"',
    '  skip_database_creation = true',
    `  username = "${username}"`,
    `  password = "${password}"`,
  ];
  const ours = await bifrost([
    'type: influxdb',
    `endpoint: ${influx.url}`,
    'provider_config:',
    `  database: ${influx.database}`,
    `  username: ${username}`,
    `  password: ${password}`,
    '  measurement: reading',
    '  include_id: true',
  ]);
  cases.push(
    ...(await compare(
      `REST ${PER_REQUEST} points per request (${CONNECTIONS} connections) -> InfluxDB 1.8, ${INFLUX_POINTS} points as fast as taken`,
      ours,
      { memory: await telegraf('memory', influxOut) },
      (s, scale) =>
        offer({
          ...s,
          points: INFLUX_POINTS * scale,
          perRequest: PER_REQUEST,
          connections: CONNECTIONS,
          count: counted(s.format === 'json' ? influx.database : 'telegraf'),
          pollMs: 250,
        }),
    )),
  );
} finally {
  await influx.dispose();
}
writeResults('peers', cases, { rounds: ROUNDS, telegraf: '1.37.0 (scripts/peers/telegraf.sh)' });
process.exit(0);
