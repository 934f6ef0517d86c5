import pg from 'pg';
import {
  abortable,
  ConfigError,
  TransientError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type WriteOptions,
  type WriteReceipt,
} from '@bifrost/core';
import type { TimescaleConfig } from './config.js';
import { poolConfig } from './connection.js';
import { insertRowByRow } from './row-by-row.js';
import { classifyPgError, isDataError, sqlState } from './sqlstate.js';
import {
  arrayLiteral,
  createHypertableStatement,
  createTableStatements,
  insertParameters,
  insertStatement,
  qualifiedTable,
} from './sql.js';

/** The error a write cancelled by the host's signal rejects with (transient: the host retries it). */
function cancelledError(signal: AbortSignal): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown); PostgreSQL connection destroyed', {
    code: 'BIFROST_ERR_PG_WRITE_CANCELLED',
    cause: signal.reason,
  });
}

/**
 * Destroys a pooled client's socket at once. `pg` has no per-query abort, and `pg_cancel_backend`
 * alone is not enough: the cancel request races the statement, so the INSERT's COMMIT can still land
 * and its CommandComplete still reach this client, which would then resolve a write the host gave up
 * on (and is about to retry). With the socket gone nothing more is read from it, so no late ack is
 * taken; a COMMIT the server makes anyway only means the retry's rows are skipped by
 * `ON CONFLICT DO NOTHING`.
 */
function destroyConnection(client: pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * A TimescaleDB/PostgreSQL connection pool. Each batch is one `INSERT ... SELECT FROM unnest(...)
 * ON CONFLICT (id, time) DO NOTHING` statement (autocommit: acknowledged by COMMIT), so redelivered
 * points never duplicate rows. It does not retry: the host does.
 */
export class TimescaleConnector implements Connector {
  private pool?: pg.Pool;
  private readonly insert: string;
  private readonly statementName: string;
  private tableReady = false;

  constructor(
    private readonly config: TimescaleConfig,
    private readonly ctx: PluginContext,
  ) {
    this.insert = insertStatement(config);
    this.statementName = `bifrost_insert_${config.value_mode}`;
  }

  /** Opens the pool and makes sure the table exists (creating it, as a hypertable when possible). */
  async connect(): Promise<void> {
    await this.close();
    let settings: pg.PoolConfig;
    try {
      settings = poolConfig(this.config, this.ctx.tls);
    } catch (err) {
      throw classifyPgError(err);
    }
    const pool = new pg.Pool(settings);
    // An idle client losing its connection must not crash the process; the next query fails and is retried.
    pool.on('error', (err) => this.ctx.logger.warn({ err: err.message }, 'idle PostgreSQL connection lost'));
    try {
      const client = await pool.connect();
      try {
        if (!this.tableReady) await this.prepareTable(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw classifyPgError(err);
    }
    this.pool = pool;
    this.ctx.logger.info(
      { host: settings.host, port: settings.port, database: settings.database, table: qualifiedTable(this.config) },
      'connected to PostgreSQL',
    );
  }

  /**
   * Resolves once PostgreSQL committed the batch. On a data error (SQLSTATE class 22/23) the batch
   * is retried row by row and only the rows PostgreSQL refuses come back in a
   * {@link PartialWriteError}; every other row is committed. The receipt counts the statement's
   * parameter bytes.
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    if (signal.aborted) throw cancelledError(signal);
    const pool = this.pool;
    if (!pool) throw new TransientError('not connected', { code: 'BIFROST_ERR_NOT_CONNECTED' });
    if (batch.length === 0) return { bytes: 0 };
    try {
      return { bytes: await this.insertRows(pool, batch, signal) };
    } catch (err) {
      if (signal.aborted) throw cancelledError(signal);
      // The table was dropped under us: the next connect() creates it again (when create_table is on).
      if (sqlState(err) === '42P01') this.tableReady = false;
      if (!isDataError(err)) throw classifyPgError(err);
      try {
        return await insertRowByRow(batch, async (point) => {
          await this.insertRows(pool, [point], signal);
        });
      } catch (rowErr) {
        // Cancelled half-way: hand the whole batch back (rows already committed are skipped on retry).
        if (signal.aborted) throw cancelledError(signal);
        throw rowErr;
      }
    }
  }

  /** `SELECT 1` through the pool. */
  async healthCheck(): Promise<HealthProbe> {
    if (!this.pool) return { ok: false, detail: 'not connected' };
    try {
      await this.pool.query('SELECT 1');
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: classifyPgError(err).message };
    }
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  /**
   * Inserts `rows` in one statement on a client of its own; resolves after COMMIT with the bytes of
   * its parameters. When `signal` aborts, rejects at once and destroys that client's connection
   * (see {@link destroyConnection}), removing it from the pool.
   */
  private async insertRows(pool: pg.Pool, rows: readonly DataPoint[], signal: AbortSignal): Promise<number> {
    if (signal.aborted) throw cancelledError(signal);
    // Serialised here (as pg would) so the bytes sent can be counted; pg passes strings through.
    const values = insertParameters(rows, this.config.value_mode).map(arrayLiteral);
    let bytes = 0;
    for (const v of values) bytes += Buffer.byteLength(v);
    const checkout = pool.connect();
    let client: pg.PoolClient;
    try {
      client = await abortable(checkout, signal, () => cancelledError(signal));
    } catch (err) {
      // A client handed out after the abort goes straight back to the pool, unused.
      if (signal.aborted)
        checkout.then(
          (c) => c.release(),
          () => undefined,
        );
      throw err;
    }
    let destroyed = false;
    const onAbort = () => {
      destroyed = true;
      destroyConnection(client);
    };
    // A checked-out client whose connection ends emits 'error' (pool.query listens for it; so must
    // we, or the process gets an uncaught exception); the query in flight fails with it too.
    const onClientError = () => {
      destroyed = true;
    };
    client.on('error', onClientError);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await abortable(client.query({ name: this.statementName, text: this.insert, values }), signal, () =>
        cancelledError(signal),
      );
    } catch (err) {
      // A broken connection must not go back to the pool either.
      if (!sqlState(err)) destroyed = true;
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      client.off('error', onClientError);
      // release(true) removes the client from the pool and ends it instead of reusing it.
      client.release(destroyed || undefined);
    }
    return bytes;
  }

  private async prepareTable(client: pg.PoolClient): Promise<void> {
    const c = this.config;
    if (!c.create_table) {
      const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [qualifiedTable(c)]);
      if (!rows[0]?.t)
        throw new ConfigError(`table ${qualifiedTable(c)} does not exist and create_table is off`, {
          code: 'BIFROST_ERR_PG_NO_TABLE',
        });
      this.tableReady = true;
      return;
    }
    await client.query('BEGIN');
    try {
      // Serializes concurrent gateways creating the same table (CREATE ... IF NOT EXISTS can race).
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`bifrost:${qualifiedTable(c)}`]);
      for (const sql of createTableStatements(c)) await client.query(sql);
      const { rows } = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
      if (rows.length > 0) {
        await client.query(createHypertableStatement(c), [c.chunk_time_interval]);
        this.ctx.logger.info({ table: qualifiedTable(c) }, 'using a TimescaleDB hypertable');
      } else {
        this.ctx.logger.info(
          { table: qualifiedTable(c) },
          'timescaledb extension not installed: using a plain PostgreSQL table',
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    this.tableReady = true;
  }
}
