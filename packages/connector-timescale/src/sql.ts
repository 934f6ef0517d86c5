import pg from 'pg';
import type { DataPoint } from '@bifrost/core';
import type { TimescaleConfig } from './config.js';

type TableConfig = Pick<TimescaleConfig, 'schema' | 'table' | 'value_mode'>;

const { escapeIdentifier: ident } = pg;

/** `"schema"."table"`, quoted. */
export function qualifiedTable(c: TableConfig): string {
  return `${ident(c.schema)}.${ident(c.table)}`;
}

/** The value columns of a value mode, in insert order. */
export function valueColumns(mode: TableConfig['value_mode']): string[] {
  return mode === 'typed' ? ['value_double', 'value_text', 'value_bool', 'value_json'] : ['value'];
}

/**
 * DDL run once at connect: schema, table, the `(id, time)` unique constraint that makes redelivery
 * a no-op (TimescaleDB requires unique keys of a hypertable to include its time column), and a
 * `(device_id, tag_name, time DESC)` index for the usual "one signal over time" query.
 */
export function createTableStatements(c: TableConfig): string[] {
  const values =
    c.value_mode === 'typed'
      ? 'value_double double precision, value_text text, value_bool boolean, value_json jsonb'
      : 'value jsonb';
  return [
    `CREATE SCHEMA IF NOT EXISTS ${ident(c.schema)}`,
    `CREATE TABLE IF NOT EXISTS ${qualifiedTable(c)} (
  time timestamptz NOT NULL,
  device_id text NOT NULL,
  tag_name text NOT NULL,
  ${values},
  quality text NOT NULL,
  unit text,
  tags jsonb,
  id text NOT NULL,
  CONSTRAINT ${ident(`${c.table}_id_time_key`)} UNIQUE (id, time)
)`,
    `CREATE INDEX IF NOT EXISTS ${ident(`${c.table}_device_tag_time_idx`)} ON ${qualifiedTable(c)} (device_id, tag_name, time DESC)`,
  ];
}

/** Turns the table into a hypertable (no-op when it already is one); `$1` = the chunk interval. */
export function createHypertableStatement(c: TableConfig): string {
  return `SELECT create_hypertable(${pg.escapeLiteral(qualifiedTable(c))}, 'time', chunk_time_interval => $1::interval, if_not_exists => TRUE, migrate_data => TRUE)`;
}

/**
 * One parameterized statement for a whole batch: each column travels as one array parameter and
 * `unnest` turns them back into rows, so the statement has the same 11 (or 8) parameters whatever
 * the batch size (no 65535-parameter limit, one plan for all). Duplicates of `(id, time)` are skipped.
 */
export function insertStatement(c: TableConfig): string {
  const values = valueColumns(c.value_mode);
  const valueTypes = c.value_mode === 'typed' ? ['float8', 'text', 'bool', 'text'] : ['text'];
  const columns = ['time', 'device_id', 'tag_name', ...values, 'quality', 'unit', 'tags', 'id'];
  const arrays = ['float8', 'text', 'text', ...valueTypes, 'text', 'text', 'text', 'text'].map(
    (t, i) => `$${i + 1}::${t}[]`,
  );
  const names = ['ms', 'device_id', 'tag_name', ...values, 'quality', 'unit', 'tags', 'id'];
  const select = names.map((n) => {
    if (n === 'ms') return 'to_timestamp(u.ms / 1000.0)';
    if (n === 'value_json' || n === 'value' || n === 'tags') return `u.${n}::jsonb`;
    return `u.${n}`;
  });
  return `INSERT INTO ${qualifiedTable(c)} (${columns.join(', ')})
SELECT ${select.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${names.join(', ')})
ON CONFLICT (id, time) DO NOTHING`;
}

const ARRAY_ELEMENT_SPECIAL = /["\\]/;

/**
 * A PostgreSQL array literal, byte for byte what pg's own serialiser writes for these values (every
 * element quoted, `"` and `\` escaped, NULL for null), built with one join instead of pg's string
 * concatenation and regex replaces on every element: most elements need no escaping.
 */
export function arrayLiteral(values: ReadonlyArray<string | number | boolean | null>): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      parts[i] = 'NULL';
      continue;
    }
    const s = String(v);
    parts[i] = ARRAY_ELEMENT_SPECIAL.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : `"${s}"`;
  }
  return `{${parts.join(',')}}`;
}

/** The array parameters of {@link insertStatement} for a batch, column by column. */
export function insertParameters(
  batch: readonly DataPoint[],
  mode: TableConfig['value_mode'],
): Array<Array<string | number | boolean | null>> {
  const n = batch.length;
  const ms = new Array<number>(n),
    device = new Array<string>(n),
    tag = new Array<string>(n);
  const quality = new Array<string>(n),
    unit = new Array<string | null>(n),
    tags = new Array<string | null>(n),
    id = new Array<string>(n);
  const dbl = new Array<number | null>(n),
    txt = new Array<string | null>(n),
    bool = new Array<boolean | null>(n),
    json = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const p = batch[i]!; // n === batch.length; an index loop fills the column arrays without allocating
    ms[i] = p.timestamp;
    device[i] = p.deviceId;
    tag[i] = p.tagName;
    quality[i] = p.quality;
    unit[i] = p.unit ?? null;
    tags[i] = p.tags ? JSON.stringify(p.tags) : null;
    id[i] = p.id;
    const v = p.value;
    if (mode === 'jsonb') {
      json[i] = JSON.stringify(v);
      continue;
    }
    dbl[i] = typeof v === 'number' ? v : null;
    txt[i] = typeof v === 'string' ? v : null;
    bool[i] = typeof v === 'boolean' ? v : null;
    json[i] = typeof v === 'object' && v !== null ? JSON.stringify(v) : null;
  }
  const values = mode === 'typed' ? [dbl, txt, bool, json] : [json];
  return [ms, device, tag, ...values, quality, unit, tags, id];
}
