import { describe, expect, it } from 'vitest';
import type { DataPoint } from '@bifrost/core';
import {
  arrayLiteral,
  createHypertableStatement,
  createTableStatements,
  insertParameters,
  insertStatement,
  timescaleConfigSchema,
} from '../src/index.js';
import { prepareValue } from 'pg/lib/utils.js';

const cfg = timescaleConfigSchema.parse({ endpoint: 'postgres://u@h/db', schema: 'plant', table: 'readings' });
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: 'id-1',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 1_700_000_000_123,
  ...over,
});

describe('insertStatement', () => {
  it('inserts a whole batch through unnest with one array parameter per column and skips duplicates', () => {
    const sql = insertStatement(cfg);
    expect(sql).toContain(
      'INSERT INTO "plant"."readings" (time, device_id, tag_name, value_double, value_text, value_bool, value_json, quality, unit, tags, id)',
    );
    expect(sql).toContain(
      'unnest($1::float8[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::bool[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])',
    );
    expect(sql).toContain('to_timestamp(u.ms / 1000.0)');
    expect(sql).toMatch(/ON CONFLICT \(id, time\) DO NOTHING$/);
    expect(sql).not.toMatch(/\$12/);
  });

  it('has a single jsonb value column in jsonb mode', () => {
    const sql = insertStatement({ ...cfg, value_mode: 'jsonb' });
    expect(sql).toContain('(time, device_id, tag_name, value, quality, unit, tags, id)');
    expect(sql).toContain('u.value::jsonb');
    expect(sql).toContain('$8::text[]');
    expect(sql).not.toContain('$9');
  });
});

describe('insertParameters', () => {
  it('puts each value type in its own column and nulls elsewhere', () => {
    const batch = [
      point({ id: 'a', value: 1.5, unit: 'C', tags: { line: '3' } }),
      point({ id: 'b', value: 'RUN' }),
      point({ id: 'c', value: false }),
      point({ id: 'd', value: { x: 1 } }),
    ];
    const [ms, device, tag, dbl, txt, bool, json, quality, unit, tags, id] = insertParameters(batch, 'typed');
    expect(ms).toEqual([1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_123]);
    expect(device).toEqual(['PLC001', 'PLC001', 'PLC001', 'PLC001']);
    expect(tag).toHaveLength(4);
    expect(dbl).toEqual([1.5, null, null, null]);
    expect(txt).toEqual([null, 'RUN', null, null]);
    expect(bool).toEqual([null, null, false, null]);
    expect(json).toEqual([null, null, null, '{"x":1}']);
    expect(quality).toEqual(['GOOD', 'GOOD', 'GOOD', 'GOOD']);
    expect(unit).toEqual(['C', null, null, null]);
    expect(tags).toEqual(['{"line":"3"}', null, null, null]);
    expect(id).toEqual(['a', 'b', 'c', 'd']);
  });

  it('serializes every value as JSON in jsonb mode', () => {
    const params = insertParameters([point({ value: 2 }), point({ value: 'x' }), point({ value: true })], 'jsonb');
    expect(params).toHaveLength(8);
    expect(params[3]).toEqual(['2', '"x"', 'true']);
  });
});

describe('DDL', () => {
  it('creates schema, table with the (id, time) unique key, and the signal index, quoting identifiers', () => {
    const [schema, table, index] = createTableStatements(cfg);
    expect(schema).toBe('CREATE SCHEMA IF NOT EXISTS "plant"');
    expect(table).toContain('CREATE TABLE IF NOT EXISTS "plant"."readings"');
    expect(table).toContain('value_double double precision, value_text text, value_bool boolean, value_json jsonb');
    expect(table).toContain('CONSTRAINT "readings_id_time_key" UNIQUE (id, time)');
    expect(index).toContain('ON "plant"."readings" (device_id, tag_name, time DESC)');
    expect(createTableStatements({ ...cfg, value_mode: 'jsonb' })[1]).toContain('value jsonb,');
    expect(createHypertableStatement(cfg)).toContain(
      `create_hypertable('"plant"."readings"', 'time', chunk_time_interval => $1::interval`,
    );
  });
});

describe('arrayLiteral', () => {
  it('writes exactly what pg writes for the same array', () => {
    const values = [
      'plain',
      'with "quotes"',
      'back\\slash',
      'a,b',
      '{braces}',
      'NULL',
      '',
      ' spaced ',
      'ünïcödé 温度',
      'tab\tnew\nline',
      0,
      -1.5,
      20.1,
      1e21,
      5e-7,
      Number.MAX_SAFE_INTEGER,
      true,
      false,
      null,
    ];
    expect(arrayLiteral(values)).toBe(prepareValue(values));
    for (const v of values) expect(arrayLiteral([v])).toBe(prepareValue([v]));
    expect(arrayLiteral([])).toBe(prepareValue([]));
  });
});
