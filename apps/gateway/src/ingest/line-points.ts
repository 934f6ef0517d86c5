import { newPointId, type DataPoint } from '@bifrost/core';
import { MAX_TIMESTAMP_MS, nameProblem } from '@bifrost/core/host';
import type { LineError, ProtocolLine } from './line-protocol.js';

/** Timestamp precisions of InfluxDB's write APIs (1.x also takes `n`, `u`, `m` and `h`). */
export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

/** How line protocol becomes points. */
export interface LineMapping {
  /**
   * Tag whose value is the point's `deviceId` (e.g. `host` for Telegraf agents). Unset, or absent on
   * a line: the measurement is the device.
   */
  deviceTag?: string | undefined;
}

/** Tag added to a point's tags with the line's measurement when the device came from a tag. */
export const MEASUREMENT_TAG = '_measurement';

const MAX_STRING_VALUE = 65_536;
const MS_PER_UNIT: Record<'s' | 'm' | 'h', number> = { s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Epoch milliseconds of a timestamp's digits in `precision` (finer precisions are truncated to the
 * millisecond, the resolution of a point), or a reason it cannot be a point's timestamp.
 */
function toMillis(digits: string, precision: Precision): number | string {
  if (digits.startsWith('-')) return 'timestamp is before 1970, which a point cannot carry';
  let ms: number;
  if (precision === 'ns' || precision === 'us') {
    const cut = precision === 'ns' ? 6 : 3;
    ms = digits.length > cut ? Number(digits.slice(0, -cut)) : 0;
  } else if (precision === 'ms') ms = Number(digits);
  else ms = Number(digits) * MS_PER_UNIT[precision];
  return Number.isSafeInteger(ms) && ms <= MAX_TIMESTAMP_MS
    ? ms
    : 'timestamp is later than 9999-12-31, which a point cannot carry';
}

/**
 * Points of parsed lines: one per field, `deviceId` from {@link LineMapping.deviceTag} or the
 * measurement, `tagName` = the field key, the line's tags kept (plus {@link MEASUREMENT_TAG} when the
 * device came from a tag), the value as it is typed, quality `GOOD`, timestamp in epoch ms (`now`
 * when the line has none). A line whose points could not be delivered (a name no sink can carry, a
 * string over 64 KiB) is refused whole, as an error naming its number.
 */
export function pointsFromLines(
  lines: readonly ProtocolLine[],
  precision: Precision,
  now: number,
  mapping: LineMapping,
): { points: DataPoint[]; errors: LineError[] } {
  const points: DataPoint[] = [];
  const errors: LineError[] = [];
  for (const l of lines) {
    const problem = lineProblem(l, mapping);
    if (problem !== undefined) {
      errors.push({ line: l.line, message: problem });
      continue;
    }
    const ts = l.timestamp === undefined ? now : toMillis(l.timestamp, precision);
    if (typeof ts === 'string') {
      errors.push({ line: l.line, message: ts });
      continue;
    }
    const fromTag = mapping.deviceTag === undefined ? undefined : l.tags?.[mapping.deviceTag];
    const deviceId = fromTag ?? l.measurement;
    const tags = fromTag === undefined ? l.tags : { ...l.tags, [MEASUREMENT_TAG]: l.measurement };
    for (const [tagName, value] of l.fields) {
      const point: DataPoint = { id: newPointId(), deviceId, tagName, value, quality: 'GOOD', timestamp: ts };
      if (tags !== undefined) point.tags = tags;
      points.push(point);
    }
  }
  return { points, errors };
}

/** Why the points of a line could not be delivered, or undefined. */
function lineProblem(l: ProtocolLine, mapping: LineMapping): string | undefined {
  const fromTag = mapping.deviceTag === undefined ? undefined : l.tags?.[mapping.deviceTag];
  const deviceProblem = nameProblem(fromTag ?? l.measurement);
  if (deviceProblem !== undefined)
    return `${fromTag === undefined ? 'measurement' : `tag "${mapping.deviceTag}"`} (the deviceId) ${deviceProblem}`;
  for (const [key, value] of l.fields) {
    const p = nameProblem(key);
    if (p !== undefined) return `field key "${key}" (a tagName) ${p}`;
    if (typeof value === 'string' && value.length > MAX_STRING_VALUE)
      return `field "${key}" is a string longer than ${MAX_STRING_VALUE} characters`;
  }
  return undefined;
}
