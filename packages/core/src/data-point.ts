import { z } from 'zod';
import { MAX_TIMESTAMP_MS, MAX_VALUE_DEPTH, nameProblem, nestsDeeperThan } from './point-checks.js';
import { nextPointId } from './point-id.js';

/** Quality codes used by industrial sources; any other string is accepted and passed through. */
export const KNOWN_QUALITIES = ['GOOD', 'BAD', 'UNCERTAIN', 'ALARM'] as const;

/** The value of a reading: a number, a string, a boolean, or a structured object. */
export type PointValue = number | string | boolean | Record<string, unknown>;

/**
 * One reading from a device: the unit of data that flows from sources through the durable queue to
 * every connector (the seed's `CloudData`).
 */
export interface DataPoint {
  /** Stable, unique id (UUIDv7), assigned at ingest when absent; sinks that can deduplicate use it. */
  id: string;
  /** The device that produced the reading, e.g. `PLC001`. */
  deviceId: string;
  /** The tag (signal) name on that device, e.g. `temperature`. */
  tagName: string;
  value: PointValue;
  /** `GOOD`, `BAD`, `UNCERTAIN`, `ALARM` or a source-specific string. */
  quality: string;
  /** Epoch milliseconds. */
  timestamp: number;
  unit?: string;
  tags?: Record<string, string>;
  /** Delivery lane 0..9, 9 = most urgent. Routing rules may raise it. */
  priority?: number;
}

/** A point as a producer submits it: `id`, `quality`, `timestamp` are optional and filled at ingest. */
export type DataPointInput = Omit<DataPoint, 'id' | 'quality' | 'timestamp'> & {
  id?: string;
  quality?: string;
  timestamp?: number | string;
};

const nonEmpty = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? `${what} is required` : undefined) })
    .min(1, `${what} must not be empty`)
    .max(256);

/** zod schema of an incoming point (snake_case aliases `device_id`, `tag_name` are accepted). */
export const dataPointInputSchema = z.strictObject({
  id: z.string().min(1).max(128).optional(),
  deviceId: nonEmpty('deviceId'),
  tagName: nonEmpty('tagName'),
  value: z.union([z.number().finite(), z.string().max(65_536), z.boolean(), z.record(z.string(), z.unknown())], {
    error: 'value must be a finite number, a string, a boolean or an object',
  }),
  quality: z.string().min(1).max(64).optional(),
  timestamp: z.union([z.number().int().nonnegative(), z.string().datetime({ offset: true })]).optional(),
  unit: z.string().max(64).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  priority: z.number().int().min(0).max(9).optional(),
});

/** Accepts the seed's snake_case field names as aliases of the camelCase ones. */
function normalizeKeys(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const r = { ...(raw as Record<string, unknown>) };
  if ('device_id' in r && !('deviceId' in r)) {
    r.deviceId = r.device_id;
    delete r.device_id;
  }
  if ('tag_name' in r && !('tagName' in r)) {
    r.tagName = r.tag_name;
    delete r.tag_name;
  }
  return r;
}

/** Thrown by {@link parsePoints} with every problem found, each naming its field path. */
export class PointValidationError extends Error {
  readonly code = 'BIFROST_ERR_INVALID_POINT';
  constructor(readonly issues: Array<{ path: string; message: string }>) {
    super(`[bifrost] invalid data point: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'PointValidationError';
  }
}

/**
 * Validates one or many raw points and fills `id` (UUIDv7, monotonic), `quality` (`GOOD`) and
 * `timestamp` (now). Throws {@link PointValidationError} naming every field at fault, e.g.
 * `points[3].value`. Nothing is partially accepted. With `adopt` (for objects the caller just parsed
 * and no one else holds, such as a JSON request body), a raw point that already has every field of
 * the stored form, in the order of {@link DataPoint} and with a numeric timestamp, becomes the point
 * itself instead of being copied.
 */
export function parsePoints(raw: unknown, now = Date.now(), { adopt = false }: { adopt?: boolean } = {}): DataPoint[] {
  // Hot path: a hand-written check per point (no zod, no copies of the input). The first point it
  // does not accept sends the whole request through the zod schema, which names every field at fault.
  const list = Array.isArray(raw) ? raw : [raw];
  const out = new Array<DataPoint>(list.length);
  let givenIds: Set<string> | undefined;
  for (let i = 0; i < list.length; i++) {
    const point = acceptedPoint(list[i], now, adopt);
    if (point === undefined) return parsePointsWithIssues(raw, now);
    if (point.id !== '') {
      givenIds ??= new Set();
      if (givenIds.has(point.id)) return parsePointsWithIssues(raw, now);
      givenIds.add(point.id);
    } else point.id = nextPointId();
    out[i] = point;
  }
  return out;
}

/**
 * `raw` as a point (with `id` '' when it has none yet) when it passes every check of
 * {@link dataPointInputSchema} and of ingest (names, depth, timestamp range); undefined otherwise,
 * never for a point the schema would accept with a different result. Exported for the test that
 * holds it to the schema; not part of the package's API.
 */
export function acceptedPoint(raw: unknown, now: number, adopt = false): DataPoint | undefined {
  if (!isPlainObject(raw)) return undefined;
  let id, deviceId, tagName, value, quality, timestamp, unit, tags, priority, deviceIdAlias, tagNameAlias;
  let aliases = 0;
  let names = 0;
  // The rank of the last field while the fields come in the order of the point built below, none
  // undefined (see the end); OUT_OF_ORDER once they do not.
  let order = -1;
  for (const key in raw) {
    const v = raw[key];
    switch (key) {
      case 'id':
        id = v;
        order = ranked(order, 0, v);
        break;
      case 'deviceId':
        deviceId = v;
        names |= 1;
        order = ranked(order, 1, v);
        break;
      case 'tagName':
        tagName = v;
        names |= 2;
        order = ranked(order, 2, v);
        break;
      case 'device_id':
        deviceIdAlias = v;
        aliases |= 1;
        order = OUT_OF_ORDER;
        break;
      case 'tag_name':
        tagNameAlias = v;
        aliases |= 2;
        order = OUT_OF_ORDER;
        break;
      case 'value':
        value = v;
        order = ranked(order, 3, v);
        break;
      case 'quality':
        quality = v;
        order = ranked(order, 4, v);
        break;
      case 'timestamp':
        timestamp = v;
        order = ranked(order, 5, v);
        break;
      case 'unit':
        unit = v;
        order = ranked(order, 6, v);
        break;
      case 'tags':
        tags = v;
        order = ranked(order, 7, v);
        break;
      case 'priority':
        priority = v;
        order = ranked(order, 8, v);
        break;
      default:
        return undefined;
    }
  }
  // An alias beside its camelCase name stays an unknown field, as in normalizeKeys.
  if (aliases & names) return undefined;
  if (aliases & 1) deviceId = deviceIdAlias;
  if (aliases & 2) tagName = tagNameAlias;
  if (!isName(deviceId) || !isName(tagName)) return undefined;
  if (id !== undefined && !(typeof id === 'string' && id.length >= 1 && id.length <= 128)) return undefined;
  if (!isValue(value)) return undefined;
  if (quality !== undefined && !(typeof quality === 'string' && quality.length >= 1 && quality.length <= 64))
    return undefined;
  let ts = now;
  if (typeof timestamp === 'number') {
    if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP_MS) return undefined;
    ts = timestamp;
  } else if (typeof timestamp === 'string') {
    if (!isoTimestamp.safeParse(timestamp).success) return undefined;
    ts = Date.parse(timestamp);
    if (!(ts <= MAX_TIMESTAMP_MS)) return undefined;
  } else if (timestamp !== undefined) return undefined;
  if (unit !== undefined && !(typeof unit === 'string' && unit.length <= 64)) return undefined;
  if (tags !== undefined && !isStringRecord(tags)) return undefined;
  if (priority !== undefined && !(Number.isInteger(priority) && (priority as number) >= 0 && (priority as number) <= 9))
    return undefined;
  // Already the point this would build (every field given, a numeric timestamp, the same order, so
  // the same hidden class), and the caller's to give away: kept instead of copied, which saves a fifth
  // of a REST body's validation and its garbage. (A source's points are copied: it may freeze or
  // reuse its objects, and the host sets their lane.)
  if (adopt && order !== OUT_OF_ORDER && id !== undefined && quality !== undefined && typeof timestamp === 'number')
    return raw as unknown as DataPoint;
  const point: DataPoint = {
    id: id ?? '',
    deviceId,
    tagName,
    value,
    quality: quality ?? 'GOOD',
    timestamp: ts,
  };
  if (unit !== undefined) point.unit = unit;
  if (tags !== undefined) point.tags = tags;
  if (priority !== undefined) point.priority = priority as number;
  return point;
}

const isoTimestamp = z.string().datetime({ offset: true });

/** Above every field's rank in {@link acceptedPoint}. */
const OUT_OF_ORDER = 99;

/** `rank` when a field of that rank (defined) follows one of rank `order`, else {@link OUT_OF_ORDER}. */
function ranked(order: number, rank: number, v: unknown): number {
  return order < rank && v !== undefined ? rank : OUT_OF_ORDER;
}

/** An object literal's kind of object (the plain objects zod's strictObject and record accept, or fewer). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && nameProblem(v) === undefined;
}

function isValue(v: unknown): v is PointValue {
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'string') return v.length <= 65_536;
  return typeof v === 'boolean' || (isPlainObject(v) && !nestsDeeperThan(v));
}

function isStringRecord(v: unknown): v is Record<string, string> {
  if (!isPlainObject(v)) return false;
  for (const key in v) if (typeof v[key] !== 'string') return false;
  return true;
}

/**
 * The zod path of {@link parsePoints}: every issue of every point, or the points when there is none.
 * Exported for the test that holds {@link acceptedPoint} to it; not part of the package's API.
 */
export function parsePointsWithIssues(raw: unknown, now: number): DataPoint[] {
  const list = Array.isArray(raw) ? raw : [raw];
  const prefix = Array.isArray(raw) ? (i: number) => `[${i}]` : () => '';
  const issues: Array<{ path: string; message: string }> = [];
  const out: DataPoint[] = [];
  const firstIndexOfId = new Map<string, number>();
  list.forEach((item, i) => {
    const res = dataPointInputSchema.safeParse(normalizeKeys(item));
    if (!res.success) {
      for (const issue of res.error.issues) {
        const p = issue.path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`)).join('');
        issues.push({ path: `${prefix(i)}${p}`.replace(/^\./, '') || '(point)', message: issue.message });
      }
      return;
    }
    const v = res.data;
    const at = (field: string) => `${prefix(i)}.${field}`.replace(/^\./, '');
    for (const field of ['deviceId', 'tagName'] as const) {
      const problem = nameProblem(v[field]);
      if (problem) issues.push({ path: at(field), message: `${field} ${problem}` });
    }
    if (typeof v.value === 'object' && nestsDeeperThan(v.value))
      issues.push({ path: at('value'), message: `value nests deeper than ${MAX_VALUE_DEPTH} levels` });
    const ts =
      v.timestamp === undefined ? now : typeof v.timestamp === 'string' ? Date.parse(v.timestamp) : v.timestamp;
    if (ts > MAX_TIMESTAMP_MS)
      issues.push({ path: at('timestamp'), message: 'timestamp must be epoch milliseconds no later than 9999-12-31' });
    if (v.id !== undefined) {
      const first = firstIndexOfId.get(v.id);
      if (first !== undefined) issues.push({ path: at('id'), message: `id "${v.id}" repeats point ${prefix(first)}` });
      else firstIndexOfId.set(v.id, i);
    }
    const point: DataPoint = {
      id: v.id ?? nextPointId(),
      deviceId: v.deviceId,
      tagName: v.tagName,
      value: v.value,
      quality: v.quality ?? 'GOOD',
      timestamp: ts,
    };
    if (v.unit !== undefined) point.unit = v.unit;
    if (v.tags !== undefined) point.tags = v.tags;
    if (v.priority !== undefined) point.priority = v.priority;
    out.push(point);
  });
  if (issues.length) throw new PointValidationError(issues);
  return out;
}

/** A new UUIDv7 point id (time-ordered, monotonic within the process). */
export function newPointId(): string {
  return nextPointId();
}
