// `pnpm bench timescale`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector) beside a raw `pg` loop doing the same inserts to the same PostgreSQL in the same run;
// and the shipped unnest INSERT beside the best raw COPY loop, the other way the issue allowed.
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { DataPoint } from '@bifrost/core';
import timescale, {
  arrayLiteral,
  insertParameters,
  insertStatement,
  qualifiedTable,
  timescaleConfigSchema,
  valueColumns,
} from '@bifrost/connector-timescale';
import { startPostgres } from '@bifrost/connector-testkit/peers';
import {
  alternate,
  compareRounds,
  connectorCases,
  chunk,
  concurrentLoop,
  makePoints,
  pipelineThroughput,
  silentLogger,
  writeResults,
  type BenchCase,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';

// 200,000 points make each run last 1-3 s: 60,000-point runs (~0.5 s) swung by ±0.1 in ratio
// between runs on this shared 2-core machine.
const POINTS = Number(process.env.BENCH_POINTS ?? 200_000);
const peer = await startPostgres();
const endpoint = peer.url;
const connection = {
  host: peer.host,
  port: peer.port,
  user: peer.user.username,
  password: peer.user.password,
  database: peer.database,
};

async function count(table: string): Promise<number> {
  const c = new pg.Client(connection);
  await c.connect();
  try {
    const [row] = (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows;
    if (!row) throw new Error(`count(*) of ${table} returned no row`);
    return row.n;
  } finally {
    await c.end();
  }
}

/**
 * A pool for the raw loops. `pool.end()` resolves before its clients' sockets have closed; when the
 * peer stops right after, a closing client reports the shutdown, which must not crash the bench.
 */
function rawPool(workers: number): pg.Pool {
  const pool = new pg.Pool({ ...connection, max: workers });
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Creates `table` as the connector does, then runs `writeBatch` over the points in batches of
 * `batchSize` with `workers` in flight on a pool of `workers` connections; returns points per second.
 */
async function rawLoop(
  table: string,
  batchSize: number,
  workers: number,
  writeBatch: (pool: pg.Pool, cfg: ReturnType<typeof timescaleConfigSchema.parse>, batch: DataPoint[]) => Promise<void>,
): Promise<number> {
  const cfg = timescaleConfigSchema.parse({ endpoint, table });
  const setup = timescale.create(cfg, { name: 'setup', logger: silentLogger, signal: new AbortController().signal });
  await setup.connect();
  await setup.close();
  const pool = rawPool(workers);
  try {
    return await concurrentLoop(chunk(makePoints(POINTS), batchSize), workers, (b) => writeBatch(pool, cfg, b));
  } finally {
    await pool.end();
  }
}

/**
 * The best raw loop: the same single unnest statement per batch, prepared, its arrays serialised as
 * the connector does (`arrayLiteral`, cheaper than pg's own), `workers` batches in flight.
 */
function rawPg(table: string, batchSize: number, workers: number): Promise<number> {
  return rawLoop(table, batchSize, workers, async (pool, cfg, b) => {
    await pool.query({
      name: 'raw',
      text: insertStatement(cfg),
      values: insertParameters(b, 'typed').map(arrayLiteral),
    });
  });
}

const COPY_COLUMNS = ['time', 'device_id', 'tag_name', ...valueColumns('typed'), 'quality', 'unit', 'tags', 'id'];

const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One field of COPY's text format: `\N` for null, backslash, tab, newline and carriage return escaped. */
function copyField(v: string | number | boolean | null): string {
  if (v === null) return '\\N';
  const s = String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] ?? c) : s;
}

/** A batch as COPY text rows, in {@link COPY_COLUMNS} order. */
function copyRows(batch: readonly DataPoint[]): string {
  let out = '';
  for (const p of batch) {
    const v = p.value;
    out +=
      [
        new Date(p.timestamp).toISOString(),
        p.deviceId,
        p.tagName,
        typeof v === 'number' ? v : null,
        typeof v === 'string' ? v : null,
        typeof v === 'boolean' ? v : null,
        typeof v === 'object' && v !== null ? JSON.stringify(v) : null,
        p.quality,
        p.unit ?? null,
        p.tags ? JSON.stringify(p.tags) : null,
        p.id,
      ]
        .map(copyField)
        .join('\t') + '\n';
  }
  return out;
}

/**
 * The best raw COPY loop: per batch, in one transaction, COPY into a session temp table, then
 * `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (COPY itself cannot skip redelivered ids);
 * `workers` batches in flight.
 */
function rawCopy(table: string, batchSize: number, workers: number): Promise<number> {
  const cols = COPY_COLUMNS.join(', ');
  return rawLoop(table, batchSize, workers, async (pool, cfg, b) => {
    const target = qualifiedTable(cfg);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`CREATE TEMP TABLE IF NOT EXISTS staging (LIKE ${target}) ON COMMIT DELETE ROWS`);
      await pipeline(Readable.from([copyRows(b)]), client.query(copyFrom(`COPY staging (${cols}) FROM STDIN`)));
      await client.query(
        `INSERT INTO ${target} (${cols}) SELECT ${cols} FROM staging ON CONFLICT (id, time) DO NOTHING`,
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
let runs = 0;

/** Ours tuned opens as many pooled connections as batches in flight; the defaults leave both unset. */
async function e2e(delivery: DeliveryOptionsInput): Promise<number> {
  const table = `e2e_${++runs}`;
  const rate = await pipelineThroughput({
    definition: timescale,
    config: timescaleConfigSchema.parse({
      endpoint,
      table,
      ...(delivery.maxInFlight !== undefined && { pool_size: delivery.maxInFlight }),
    }),
    points: makePoints(POINTS),
    delivery,
  });
  const stored = await count(table);
  if (stored !== POINTS) throw new Error(`lost points: ${stored} of ${POINTS} in ${table}`);
  return rate;
}

/** One COPY-loop run, its stored count checked. */
async function checkedCopy(batchSize: number, workers: number): Promise<number> {
  const copyTable = `copy_${++runs}`;
  const rate = await rawCopy(copyTable, batchSize, workers);
  const stored = await count(copyTable);
  if (stored !== POINTS) throw new Error(`COPY loop stored ${stored} of ${POINTS} in ${copyTable}`);
  return rate;
}

const cases: BenchCase[] = [];
try {
  cases.push(
    ...(await connectorCases({
      ours: 'durable e2e (SQLite queue sync=batch + pipeline + connector)',
      raw: 'pg unnest insert loop',
      batches: (process.env.BENCH_BATCHES ?? '1000,100').split(',').map(Number),
      windows: [2, 4, 8],
      rounds: ROUNDS,
      runRaw: (batch, w) => rawPg(`raw_${batch}_${++runs}`, batch, w),
      runOurs: e2e,
    })),
  );
  // The shipped statement against COPY, both raw, 4 in flight (the best window of both in earlier
  // sweeps of 2/4/8): the ratio is unnest / COPY.
  for (const batchSize of [1000, 100]) {
    const s = await alternate(ROUNDS, {
      unnest: () => rawPg(`unnest_${++runs}`, batchSize, 4),
      copy: () => checkedCopy(batchSize, 4),
    });
    cases.push(
      compareRounds(
        `raw pg unnest INSERT (what the connector sends), batch ${batchSize}, 4 in flight; baseline: raw COPY into a temp table + INSERT ... SELECT ON CONFLICT DO NOTHING, batch ${batchSize}, 4 in flight`,
        s.unnest,
        s.copy,
      ),
    );
  }
  writeResults('timescale', cases, { points: POINTS });
} finally {
  await peer.dispose();
}
