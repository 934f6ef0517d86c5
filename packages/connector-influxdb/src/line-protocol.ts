import { escape } from '@influxdata/influxdb-client';
import type { DataPoint } from '@bifrost/core';
import type { InfluxConfig, Precision } from './config.js';

/** Settings of {@link toLine}: the subset of the connector config that shapes a line. */
export type LineOptions = Pick<
  InfluxConfig,
  'precision' | 'measurement' | 'measurement_from' | 'measurement_tag' | 'field_naming' | 'integer_tags' | 'include_id'
>;

/** Thrown by {@link toLine} for a point that cannot be written as line protocol (poison). */
export class UnwritablePointError extends Error {
  constructor(
    readonly pointId: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'UnwritablePointError';
  }
}

// The client's escapers scan strings char by char; most names need no escaping, which a native
// regex test finds much faster. Each set is exactly the characters the client's escaper handles.
const MEASUREMENT_SPECIAL = /[, \n\r\t]/;
const TAG_SPECIAL = /[, =\n\r\t]/;
const QUOTED_SPECIAL = /["\\]/;
const escapeMeasurement = (s: string) => (MEASUREMENT_SPECIAL.test(s) ? escape.measurement(s) : s);
const escapeKey = (s: string) => (TAG_SPECIAL.test(s) ? escape.tag(s) : s);
const quote = (s: string) => (QUOTED_SPECIAL.test(s) ? escape.quoted(s) : `"${s}"`);

/** Field holding the point id when `include_id` is on. */
export const ID_FIELD = 'point_id';

/** Epoch milliseconds as an integer timestamp string in the given precision (no float rounding). */
export function formatTimestamp(ms: number, precision: Precision): string {
  const whole = Math.trunc(ms);
  switch (precision) {
    case 'ns':
      return whole === 0 ? '0' : `${whole}000000`;
    case 'us':
      return whole === 0 ? '0' : `${whole}000`;
    case 'ms':
      return String(whole);
    case 's':
      return String(Math.floor(whole / 1000));
  }
}

function measurementOf(p: DataPoint, o: LineOptions): string {
  const name =
    o.measurement_from === 'config'
      ? o.measurement
      : o.measurement_from === 'tag_name'
        ? p.tagName
        : o.measurement_from === 'device_id'
          ? p.deviceId
          : p.tags?.[o.measurement_tag] || o.measurement;
  // InfluxDB reads a line starting with '#' as a comment: it would answer 204 and store nothing.
  if (name.startsWith('#'))
    throw new Error(`measurement "${name}" starts with '#', which InfluxDB would silently ignore as a comment`);
  return name;
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
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(v, prefix ? `${prefix}_${k}` : k, out);
    return;
  }
  throw new Error(`field "${prefix}" has unsupported type ${typeof value}`);
}

/** One `key=value` field, typed: float, integer (`42i`), string (quoted, escaped) or boolean (`T`/`F`). */
function field(key: string, value: Leaf, integer: boolean): string {
  const k = escapeKey(key);
  if (typeof value === 'number') {
    if (integer) {
      if (!Number.isSafeInteger(value))
        throw new Error(`field "${key}" must be an integer (tag is in integer_tags), got ${value}`);
      return `${k}=${value}i`;
    }
    if (!Number.isFinite(value)) throw new Error(`field "${key}" must be a finite number, got ${value}`);
    return `${k}=${value}`;
  }
  if (typeof value === 'string') return `${k}=${quote(value)}`;
  return `${k}=${value ? 'T' : 'F'}`;
}

function valueFieldName(value: Leaf, naming: LineOptions['field_naming']): string {
  if (naming === 'single' || typeof value === 'number') return 'value';
  return typeof value === 'string' ? 'value_str' : 'value_bool';
}

/** Tags the connector sets itself, in key order; a point's own tags of these names are ignored. */
const CORE_TAGS = ['device_id', 'quality', 'tag_name', 'unit'] as const;
const CORE_TAG_SET: ReadonlySet<string> = new Set(CORE_TAGS);

function coreTag(p: DataPoint, key: (typeof CORE_TAGS)[number]): string | undefined {
  switch (key) {
    case 'device_id':
      return p.deviceId;
    case 'quality':
      return p.quality;
    case 'tag_name':
      return p.tagName;
    case 'unit':
      return p.unit;
  }
}

/** `,key=value`, or nothing: InfluxDB has no empty tag values (nor keys), so such tags are left out. */
function tagPair(key: string, value: string | undefined): string {
  return key && value ? `,${escapeKey(key)}=${escapeKey(value)}` : '';
}

/** The tag set sorted by key (as InfluxDB stores series): the core tags merged with the point's own. */
function tagSet(p: DataPoint, o: LineOptions): string {
  let own: string[] | undefined;
  if (p.tags) {
    for (const k of Object.keys(p.tags)) {
      if (CORE_TAG_SET.has(k) || (o.measurement_from === 'point_tag' && k === o.measurement_tag)) continue;
      (own ??= []).push(k);
    }
    if (own && own.length > 1) own.sort();
  }
  let out = '';
  let i = 0;
  // Hot path (once per point): `own` holds keys of p.tags and i < own.length, hence the `!`s.
  for (const key of CORE_TAGS) {
    while (own && i < own.length && own[i]! < key) out += tagPair(own[i]!, p.tags![own[i++]!]);
    out += tagPair(key, coreTag(p, key));
  }
  while (own && i < own.length) out += tagPair(own[i]!, p.tags![own[i++]!]);
  return out;
}

/**
 * One data point as an InfluxDB line: measurement per `measurement_from`; tags `device_id`,
 * `tag_name`, `quality`, `unit` and the point's own tags (which cannot override those), sorted by
 * key; the value as a typed field (objects flattened into one field per leaf); the point id as field
 * `point_id`; the timestamp in `precision`. Escaping is the official client's (`escape`). The
 * series+timestamp is a pure function of the point, so a redelivered point overwrites itself
 * instead of duplicating. Throws {@link UnwritablePointError} for a point InfluxDB could never accept.
 */
export function toLine(
  p: DataPoint,
  o: LineOptions,
  integerTags: ReadonlySet<string> = new Set(o.integer_tags),
): string {
  try {
    const integer = integerTags.has(p.tagName);
    const v = p.value;
    const fields: string[] = [];
    if (typeof v === 'object' && v !== null) {
      const leaves: Array<[string, Leaf]> = [];
      flatten(v, '', leaves);
      const seen = new Set<string>();
      for (const [k, leaf] of leaves) {
        // InfluxDB keeps only the last of duplicate field keys: refuse rather than lose a value quietly.
        if (k === '') throw new Error('value object has an empty key');
        if (o.include_id && k === ID_FIELD)
          throw new Error(`value field "${ID_FIELD}" collides with the point id field (set include_id: false)`);
        if (seen.has(k)) throw new Error(`value field "${k}" appears twice after flattening`);
        seen.add(k);
        fields.push(field(k, leaf, integer));
      }
      if (fields.length === 0) throw new Error('value object has no fields to write');
    } else {
      fields.push(field(valueFieldName(v, o.field_naming), v, integer));
    }
    if (o.include_id) fields.push(`${ID_FIELD}=${quote(p.id)}`);
    if (!Number.isFinite(p.timestamp) || p.timestamp < 0)
      throw new Error(`timestamp must be non-negative epoch milliseconds, got ${p.timestamp}`);
    return `${escapeMeasurement(measurementOf(p, o))}${tagSet(p, o)} ${fields.join(',')} ${formatTimestamp(p.timestamp, o.precision)}`;
  } catch (err) {
    throw new UnwritablePointError(p.id, `point ${p.id} (${p.deviceId}/${p.tagName}): ${(err as Error).message}`);
  }
}
