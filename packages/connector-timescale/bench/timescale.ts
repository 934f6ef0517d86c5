// `pnpm bench timescale`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector) beside a raw `pg` loop doing the same inserts to the same PostgreSQL in the same run.
import pg from 'pg';
import timescale, { insertParameters, insertStatement, timescaleConfigSchema } from '@bifrost/connector-timescale';
import { startPostgres } from '@bifrost/connector-testkit/peers';
import { benchCase, chunk, concurrentLoop, makePoints, pipelineThroughput, writeResults, type BenchCase } from '@bifrost/connector-testkit/bench';

const POINTS = Number(process.env.BENCH_POINTS ?? 60_000);
const peer = await startPostgres();
const endpoint = peer.url;
const connection = { host: peer.host, port: peer.port, user: peer.user.username, password: peer.user.password, database: peer.database };

async function count(table: string): Promise<number> {
  const c = new pg.Client(connection);
  await c.connect();
  try { return (await c.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n; } finally { await c.end(); }
}

/** The best raw loop: the same single unnest statement per batch, prepared, `workers` batches in flight. */
async function rawPg(table: string, batchSize: number, workers: number): Promise<number> {
  const cfg = timescaleConfigSchema.parse({ endpoint, table });
  const setup = timescale.create(cfg, { name: 'setup', logger: silent, signal: new AbortController().signal });
  await setup.connect();
  await setup.close();
  const pool = new pg.Pool({ ...connection, max: workers });
  const text = insertStatement(cfg);
  const batches = chunk(makePoints(POINTS), batchSize);
  try {
    return await concurrentLoop(batches, workers, async (b) => { await pool.query({ name: 'raw', text, values: insertParameters(b, 'typed') }); });
  } finally {
    await pool.end();
  }
}

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
let runs = 0;

async function e2e(batchSize: number, workers: number): Promise<number> {
  const table = `e2e_${batchSize}_${++runs}`;
  const rate = await pipelineThroughput({
    definition: timescale,
    config: timescaleConfigSchema.parse({ endpoint, table, pool_size: workers }),
    points: makePoints(POINTS),
    delivery: { batchSize, maxInFlight: workers, flushIntervalMs: 5 },
  });
  const stored = await count(table);
  if (stored !== POINTS) throw new Error(`lost points: ${stored} of ${POINTS} in ${table}`);
  return rate;
}

const cases: BenchCase[] = [];
try {
  for (const batchSize of (process.env.BENCH_BATCHES ?? '1000,100').split(',').map(Number)) {
    // Both sides get their best in-flight window, and rounds alternate raw and ours; each keeps its
    // best round, since the 2-core machine is shared and the best round is the least disturbed one.
    let raw = 0, ours = 0, rawWorkers = 1, ourWorkers = 1;
    for (let round = 0; round < ROUNDS; round++) {
      for (const w of [2, 4, 8]) {
        const r = await rawPg(`raw_${batchSize}_${++runs}`, batchSize, w);
        if (r > raw) { raw = r; rawWorkers = w; }
        const o = await e2e(batchSize, w);
        if (o > ours) { ours = o; ourWorkers = w; }
      }
    }
    cases.push(benchCase(`durable e2e (SQLite queue sync=batch + pipeline + connector), batch ${batchSize}, ${ourWorkers} in flight; raw: pg unnest insert loop, ${rawWorkers} in flight`, ours, raw));
  }
  writeResults('timescale', cases);
} finally {
  await peer.dispose();
}
