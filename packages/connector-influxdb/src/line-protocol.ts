import { Point } from '@influxdata/influxdb-client';
import type { DataPoint } from '@bifrost/core';
import type { InfluxConfig, Precision } from './config.js';

/** Settings of {@link toLine}: the subset of the connector config that shapes a line. */
export type LineOptions = Pick<InfluxConfig,
  'precision' | 'measurement' | 'measurement_from' | 'measurement_tag' | 'field_naming' | 'integer_tags' | 'include_id'>;

/** Thrown by {@link toLine} for a point that cannot be written as line protocol (poison). */
export class UnwritablePointError extends Error {
  constructor(readonly pointId: string, reason: string) {
    super(reason);
    this.name = 'UnwritablePointError';
  }
}

/** Field holding the point id when `include_id` is on. */
export const ID_FIELD = 'point_id';

/** Epoch milliseconds as an integer timestamp string in the given precision (no float rounding). */
export function formatTimestamp(ms: number, precision: Precision): string {
  const whole = Math.trunc(ms);
  switch (precision) {
    case 'ns': return whole === 0 ? '0' : `${whole}000000`;
    case 'us': return whole === 0 ? '0' : `${whole}000`;
    case 'ms': return String(whole);
    case 's': return String(Math.floor(whole / 1000));
  }
}

function measurementOf(p: DataPoint, o: LineOptions): string {
  switch (o.measurement_from) {
    case 'config': return o.measurement;
    case 'tag_name': return p.tagName;
    case 'device_id': return p.deviceId;
    case 'point_tag': return p.tags?.[o.measurement_tag] || o.measurement;
  }
}

type Leaf = number | string | boolean;

/** Flattens an object value into `key_subkey` leaves (Telegraf's JSON convention); nulls are skipped. */
function flatten(value: unknown, prefix: string, out: Array<[string, Leaf]>): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    out.push([prefix, value]);
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}_${k}` : k, out);
    return;
  }
  throw new Error(`field "${prefix}" has unsupported type ${typeof value}`);
}

function addField(line: Point, key: string, value: Leaf, integer: boolean): void {
  if (typeof value === 'number') {
    if (integer) {
      if (!Number.isSafeInteger(value)) throw new Error(`field "${key}" must be an integer (tag is in integer_tags), got ${value}`);
      line.intField(key, value);
    } else {
      if (!Number.isFinite(value)) throw new Error(`field "${key}" must be a finite number, got ${value}`);
      line.floatField(key, value);
    }
  } else if (typeof value === 'string') line.stringField(key, value);
  else line.booleanField(key, value);
}

function valueFieldName(value: Leaf, naming: LineOptions['field_naming']): string {
  if (naming === 'single' || typeof value === 'number') return 'value';
  return typeof value === 'string' ? 'value_str' : 'value_bool';
}

/**
 * One data point as an InfluxDB line: measurement per `measurement_from`; tags `device_id`,
 * `tag_name`, `quality`, `unit` and the point's own tags (which cannot override those); the value
 * as a typed field (objects flattened into one field per leaf); the point id as field `point_id`;
 * the timestamp in `precision`. Escaping is the official client's. The series+timestamp is a pure
 * function of the point, so a redelivered point overwrites itself instead of duplicating.
 * Throws {@link UnwritablePointError} for a point InfluxDB could never accept.
 */
export function toLine(p: DataPoint, o: LineOptions, integerTags: ReadonlySet<string> = new Set(o.integer_tags)): string {
  try {
    const line = new Point(measurementOf(p, o));
    if (p.tags) {
      for (const [k, v] of Object.entries(p.tags)) {
        if (o.measurement_from === 'point_tag' && k === o.measurement_tag) continue;
        line.tag(k, v);
      }
    }
    line.tag('device_id', p.deviceId).tag('tag_name', p.tagName).tag('quality', p.quality);
    if (p.unit) line.tag('unit', p.unit);

    const integer = integerTags.has(p.tagName);
    const v = p.value;
    if (typeof v === 'object' && v !== null) {
      const leaves: Array<[string, Leaf]> = [];
      flatten(v, '', leaves);
      const kept = leaves.filter(([k]) => k !== '' && !(o.include_id && k === ID_FIELD));
      if (kept.length === 0) throw new Error('value object has no fields to write');
      for (const [k, leaf] of kept) addField(line, k, leaf, integer);
    } else {
      addField(line, valueFieldName(v, o.field_naming), v, integer);
    }
    if (o.include_id) line.stringField(ID_FIELD, p.id);

    if (!Number.isFinite(p.timestamp) || p.timestamp < 0) throw new Error(`timestamp must be non-negative epoch milliseconds, got ${p.timestamp}`);
    line.timestamp(formatTimestamp(p.timestamp, o.precision));
    const text = line.toLineProtocol();
    if (!text) throw new Error('no line produced');
    return text;
  } catch (err) {
    if (err instanceof UnwritablePointError) throw err;
    throw new UnwritablePointError(p.id, `point ${p.id} (${p.deviceId}/${p.tagName}): ${(err as Error).message}`);
  }
}
