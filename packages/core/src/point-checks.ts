/**
 * Device and tag names end up in MQTT topics, Kafka keys, AMQP routing keys, HTTP headers and SQL
 * rows. A name no sink can carry would be accepted once and then stall a connector's lane (a broker
 * drops the connection on a topic with U+0001, and the retry sends it again), so ingest refuses it.
 */

/** Longest device or tag name accepted by default, in UTF-16 code units. */
export const DEFAULT_MAX_NAME_LENGTH = 256;

// C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F), the non-characters U+FDD0-U+FDEF and
// U+xFFFE/U+xFFFF of every plane, and UTF-16 surrogates not paired (lone halves).
const UNCARRIABLE =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this pattern finds
  /[\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `name` cannot be a device or tag name, or undefined when it can. */
export function nameProblem(name: string, maxLength = DEFAULT_MAX_NAME_LENGTH): string | undefined {
  if (name.length > maxLength) return `is longer than ${maxLength} characters`;
  const m = UNCARRIABLE.exec(name);
  if (!m) return undefined;
  const code = [...m[0]].map((c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`);
  return `contains ${code.join(' ')} at position ${m.index}, which no sink can carry (control characters, non-characters and lone surrogates are refused)`;
}

/** Latest timestamp accepted: the end of year 9999 UTC, in epoch milliseconds. */
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;

/** Deepest nesting of an object value (`{ "a": { "b": ... } }`) accepted. */
export const MAX_VALUE_DEPTH = 32;

/** Whether an object value nests deeper than `max` levels (checked without recursion). */
export function nestsDeeperThan(value: unknown, max = MAX_VALUE_DEPTH): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length; depth++) {
    if (depth > max) return true;
    const next: unknown[] = [];
    for (const v of level) if (v !== null && typeof v === 'object') next.push(...(Object.values(v) as unknown[]));
    level = next;
  }
  return false;
}
