// `pnpm bench influxdb`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector), with the delivery defaults and tuned, beside a raw @influxdata/influxdb-client write
// loop that serializes with the connector's own `toLine` (the same serializer) and writes to the same
// influxd in the same run; median and range of alternating rounds.
import { InfluxDB } from '@influxdata/influxdb-client';
import influxdb, { influxConfigSchema, toLine, writePath } from '@bifrost/connector-influxdb';
import { startInflux } from '@bifrost/connector-testkit/peers';
import {
  chunk,
  concurrentLoop,
  connectorCases,
  makePoints,
  pipelineThroughput,
  writeResults,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';

// 200,000 points make each run last 1-3 s: 60,000-point runs (~0.5 s) swung by ±0.1 in ratio
// between runs on this shared 2-core machine.
const POINTS = Number(process.env.BENCH_POINTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const peer = await startInflux();
const { username, password } = peer.admin;
let runs = 0;

const configFor = (measurement: string) =>
  influxConfigSchema.parse({
    endpoint: peer.url,
    database: peer.database,
    username,
    password,
    measurement,
    include_id: true,
  });

/** The raw loop: one WriteApi per worker (no retries, gzip as the client defaults), the connector's `toLine`, `workers` batches in flight. */
async function raw(batchSize: number, workers: number): Promise<number> {
  const config = configFor(`raw_${++runs}`);
  const client = new InfluxDB({
    url: peer.url,
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
  });
  const apis = Array.from({ length: workers }, () => {
    const api = client.getWriteApi('', peer.database, config.precision, {
      batchSize: batchSize + 1,
      flushInterval: 0,
      maxRetries: 0,
    });
    api.path = writePath(config);
    return api;
  });
  const free = [...apis];
  const rate = await concurrentLoop(chunk(makePoints(POINTS), batchSize), workers, async (batch) => {
    const api = free.pop()!;
    try {
      api.writeRecords(batch.map((p) => toLine(p, config)));
      await api.flush();
    } finally {
      free.push(api);
    }
  });
  await Promise.all(apis.map((a) => a.close()));
  return rate;
}

async function e2e(delivery: DeliveryOptionsInput): Promise<number> {
  const measurement = `e2e_${++runs}`;
  const rate = await pipelineThroughput({
    definition: influxdb,
    config: configFor(measurement),
    points: makePoints(POINTS),
    delivery,
  });
  const [row] = await peer.query(`SELECT count(value) FROM "${measurement}"`);
  if (row?.count !== POINTS) throw new Error(`lost points: ${String(row?.count)} of ${POINTS} in ${measurement}`);
  return rate;
}

try {
  const cases = await connectorCases({
    ours: 'durable e2e (SQLite queue sync=batch + pipeline + connector)',
    raw: "influxdb-client WriteApi loop with the connector's toLine serializer",
    batches: (process.env.BENCH_BATCHES ?? '1000,5000').split(',').map(Number),
    windows: [1, 2, 4],
    rounds: ROUNDS,
    runRaw: raw,
    runOurs: e2e,
  });
  writeResults('influxdb', cases, { points: POINTS });
} finally {
  await peer.dispose();
}
