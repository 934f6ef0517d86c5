// `pnpm bench influxdb`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector) beside a raw @influxdata/influxdb-client write loop doing the same writes to the same
// influxd in the same run.
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import type { DataPoint } from '@bifrost/core';
import influxdb, { influxConfigSchema } from '@bifrost/connector-influxdb';
import { startInflux } from '@bifrost/connector-testkit/peers';
import {
  benchCase,
  chunk,
  concurrentLoop,
  makePoints,
  pipelineThroughput,
  writeResults,
  type BenchCase,
} from '@bifrost/connector-testkit/bench';

// 200,000 points make each run last 1-3 s: 60,000-point runs (~0.5 s) swung by ±0.1 in ratio
// between runs on this shared 2-core machine.
const POINTS = Number(process.env.BENCH_POINTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const peer = await startInflux();
const { username, password } = peer.admin;
let runs = 0;

/** What a user of the client writes for a point: the same tags and fields as the connector. */
function toPoint(p: DataPoint, measurement: string): Point {
  const point = new Point(measurement)
    .tag('device_id', p.deviceId)
    .tag('tag_name', p.tagName)
    .tag('quality', p.quality);
  if (p.unit) point.tag('unit', p.unit);
  for (const [k, v] of Object.entries(p.tags ?? {})) point.tag(k, v);
  return point.floatField('value', p.value).stringField('point_id', p.id).timestamp(`${p.timestamp}000000`);
}

/** The best raw loop: one WriteApi per worker (no retries, gzip as the client defaults), `workers` batches in flight. */
async function raw(batchSize: number, workers: number): Promise<number> {
  const measurement = `raw_${++runs}`;
  const client = new InfluxDB({
    url: peer.url,
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
  });
  const apis = Array.from({ length: workers }, () => {
    const api = client.getWriteApi('', peer.database, 'ns', {
      batchSize: batchSize + 1,
      flushInterval: 0,
      maxRetries: 0,
    });
    api.path = `/write?db=${peer.database}&precision=ns`;
    return api;
  });
  const free = [...apis];
  const rate = await concurrentLoop(chunk(makePoints(POINTS), batchSize), workers, async (batch) => {
    const api = free.pop()!;
    try {
      api.writePoints(batch.map((p) => toPoint(p, measurement)));
      await api.flush();
    } finally {
      free.push(api);
    }
  });
  await Promise.all(apis.map((a) => a.close()));
  return rate;
}

async function e2e(batchSize: number, workers: number): Promise<number> {
  const measurement = `e2e_${++runs}`;
  const rate = await pipelineThroughput({
    definition: influxdb,
    config: influxConfigSchema.parse({
      endpoint: peer.url,
      database: peer.database,
      username,
      password,
      measurement,
      include_id: true,
    }),
    points: makePoints(POINTS),
    delivery: { batchSize, maxInFlight: workers, flushIntervalMs: 5 },
  });
  const [row] = await peer.query(`SELECT count(value) FROM "${measurement}"`);
  if (row?.count !== POINTS) throw new Error(`lost points: ${String(row?.count)} of ${POINTS} in ${measurement}`);
  return rate;
}

const cases: BenchCase[] = [];
try {
  for (const batchSize of (process.env.BENCH_BATCHES ?? '1000,5000').split(',').map(Number)) {
    // Both sides get their best in-flight window; rounds alternate raw and ours and each keeps its
    // best round (the 2-core machine is shared: the best round is the least disturbed one).
    let rawBest = 0,
      ours = 0,
      rawWorkers = 1,
      ourWorkers = 1;
    for (let round = 0; round < ROUNDS; round++) {
      for (const w of [1, 2, 4]) {
        const r = await raw(batchSize, w);
        if (r > rawBest) {
          rawBest = r;
          rawWorkers = w;
        }
        const o = await e2e(batchSize, w);
        if (o > ours) {
          ours = o;
          ourWorkers = w;
        }
      }
    }
    cases.push(
      benchCase(
        `durable e2e (SQLite queue sync=batch + pipeline + connector), batch ${batchSize}, ${ourWorkers} in flight; raw: influxdb-client WriteApi loop, ${rawWorkers} in flight`,
        ours,
        rawBest,
      ),
    );
  }
  writeResults('influxdb', cases);
} finally {
  await peer.dispose();
}
