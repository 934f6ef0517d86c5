// The line-protocol bodies `POST /write` and `/api/v2/write` answer 204, as one regular expression
// for `/openapi.json`: the grammar of parseLineProtocol (line-protocol.ts) plus the checks of
// pointsFromLines (line-points.ts) under the default mapping and precision. Written for both
// ECMAScript (`u` flag, as Ajv compiles it) and Python's `re` (API fuzzers), so: no flags, `\n` for a
// line end, and every character class spelled out.
import { MAX_TIMESTAMP_MS } from '@bifrost/core/host';

/** Characters no device or tag name may hold (core's `nameProblem`, its Basic Multilingual Plane part). */
const UNCARRIABLE = '\\u0000-\\u001f\\u007f-\\u009f\\ufdd0-\\ufdef\\ufffe\\uffff';

/** Longest device or tag name, and longest string field value (line-points.ts). */
const MAX_NAME = 256;
const MAX_STRING_VALUE = 65_536;

/**
 * One character of a token after unescaping: a plain one (not a stop, newline or backslash, nor one
 * of `banned`), an escaped one (`\,`), or a backslash that escapes nothing and so stands for itself.
 */
function tokenChar(stops: string, escapable: string, banned = ''): string {
  return `(?:[^${stops}\\n\\\\${banned}]|\\\\[${escapable}]|\\\\(?![${escapable}]))`;
}

/**
 * Decimal digits (leading zeros allowed) whose value is at most `max`: shorter numbers, or a prefix of
 * `max`'s digits, then a smaller digit, then any digits, or `max` itself.
 */
export function decimalAtMost(max: number): string {
  const digits = String(max);
  const alternatives = [`[0-9]{1,${digits.length - 1}}`];
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]);
    if (d === 0) continue;
    const rest = digits.length - i - 1;
    alternatives.push(`${digits.slice(0, i)}${d === 1 ? '0' : `[0-${d - 1}]`}${rest ? `[0-9]{${rest}}` : ''}`);
  }
  alternatives.push(digits);
  return `0*(?:${alternatives.join('|')})`;
}

const SAFE = decimalAtMost(Number.MAX_SAFE_INTEGER);
const CHAR = tokenChar(', ', ', ', UNCARRIABLE);
const MEASUREMENT = `(?:[^#, \\n\\\\${UNCARRIABLE}]|\\\\[, ]|\\\\(?![, ]))${CHAR}{0,${MAX_NAME - 1}}`;
const TAG = `,${tokenChar(',= ', ',= ')}+=${tokenChar(', ', ',= ')}+`;
const FIELD_KEY = `${tokenChar(',= ', ',= ', UNCARRIABLE)}{1,${MAX_NAME}}`;
const STRING_VALUE = `"(?:[^"\\\\]|\\\\["\\\\]|\\\\(?!["\\\\])){0,${MAX_STRING_VALUE}}"`;
const BOOLEAN = 't|T|true|True|TRUE|f|F|false|False|FALSE';
const FLOAT = '[+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?';
const RAW_VALUE = `(?:[+-]?${SAFE}i|${SAFE}u|${BOOLEAN}|${FLOAT})`;
/** Nanoseconds (the default precision) up to the end of year 9999. */
const TIMESTAMP = `(?:[0-9]{1,6}|${decimalAtMost(MAX_TIMESTAMP_MS)}[0-9]{6})`;
/** After the timestamp: spaces, tabs, carriage returns. */
const TIMESTAMP_END = `(?:[ \\r][ \\t\\r]*)?`;
/** What may follow the last field: a string value may be followed by the timestamp directly. */
const AFTER_STRING = `(?: *(?:${TIMESTAMP}${TIMESTAMP_END}|\\r[ \\t\\r]*)?)`;
const AFTER_RAW = `(?: +(?:${TIMESTAMP}${TIMESTAMP_END}|\\r[ \\t\\r]*)?|\\r[ \\t\\r]*)?`;
const FIELD_START = `${FIELD_KEY}=`;
const POINT_LINE =
  `${MEASUREMENT}(?:${TAG})* +(?:${FIELD_START}(?:${STRING_VALUE}|${RAW_VALUE}),)*` +
  `${FIELD_START}(?:${STRING_VALUE}${AFTER_STRING}|${RAW_VALUE}${AFTER_RAW})`;
const LINE = `(?:[ \\t\\r]*|#[^\\n]*|${POINT_LINE})`;

/**
 * The line-protocol bodies the write routes accept whole (204), as a JSON Schema `pattern`. Exact but
 * for: the finiteness of floats (`1e999` matches and is refused), timestamps checked in nanoseconds
 * (the default; another `precision` lowers the limit), names measured in code points (the server
 * counts UTF-16 units) and non-characters outside the Basic Multilingual Plane, and
 * `api.line_protocol.device_tag` (which makes a tag the device name instead of the measurement).
 */
export const LINE_PROTOCOL_PATTERN = `^(?:${LINE}\\n)*${LINE}$`;
