// A strict parser of InfluxDB line protocol (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/):
//
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// npm has Influx clients and serializers but no maintained parser, so this is one cursor over the
// body. Escapes follow InfluxDB: `\,` and `\ ` in measurements, also `\=` in tag and field keys and
// tag values, `\"` and `\\` in string field values; a backslash before any other character is itself.
// A quoted string may span lines, as InfluxDB allows (one never closed is an error of its line
// alone). Blank lines and `#` comments are skipped.

/** A field value: float and integer fields are numbers, `"..."` strings, `t`/`false`... booleans. */
export type LineFieldValue = number | string | boolean;

/** One parsed line. */
export interface ProtocolLine {
  /** 1-based line number in the body (of its first character). */
  line: number;
  measurement: string;
  /** Tags in line order; undefined when the line has none. */
  tags: Record<string, string> | undefined;
  /** Field key and value, in line order; a key given twice keeps its last value. */
  fields: Map<string, LineFieldValue>;
  /** The timestamp's digits as written (in the request's precision), or undefined. */
  timestamp: string | undefined;
}

/** A line that is not line protocol: its number and why. */
export interface LineError {
  line: number;
  message: string;
}

const BACKSLASH = 92;
const SPACE = 32;
const COMMA = 44;
const EQUALS = 61;
const QUOTE = 34;
const NEWLINE = 10;
const CR = 13;
const TAB = 9;
const HASH = 35;

class LineSyntaxError extends Error {}

const BOOLEANS: Record<string, boolean> = {
  t: true,
  T: true,
  true: true,
  True: true,
  TRUE: true,
  f: false,
  F: false,
  false: false,
  False: false,
  FALSE: false,
};
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const UNSIGNED = /^\d+$/;
const TIMESTAMP = /^-?\d+$/;

/**
 * Parses a line-protocol body. Every line is parsed on its own: good lines are returned in order,
 * bad ones as errors naming the line number, so a caller can choose all-or-nothing or partial writes.
 */
export function parseLineProtocol(body: string): { lines: ProtocolLine[]; errors: LineError[] } {
  const lines: ProtocolLine[] = [];
  const errors: LineError[] = [];
  let pos = 0;
  let lineNo = 1;
  const n = body.length;

  /** Reads up to an unescaped character of `stops` (or the end of the line); unescapes `escapable`. */
  const readToken = (stops: string, escapable: string, what: string): string => {
    const start = pos;
    let out = '';
    let chunkStart = pos;
    while (pos < n) {
      const c = body.charCodeAt(pos);
      if (c === NEWLINE) break;
      if (c === BACKSLASH && pos + 1 < n && escapable.includes(body[pos + 1]!)) {
        out += body.slice(chunkStart, pos);
        chunkStart = pos + 1;
        pos += 2;
        continue;
      }
      if (stops.includes(body[pos]!)) break;
      pos++;
    }
    out += body.slice(chunkStart, pos);
    if (pos === start) throw new LineSyntaxError(`missing ${what}`);
    return out;
  };

  const expect = (code: number, what: string) => {
    if (body.charCodeAt(pos) !== code) throw new LineSyntaxError(`expected ${what} at column ${column()}`);
    pos++;
  };
  let lineStart = 0;
  const column = () => pos - lineStart + 1;

  const readStringValue = (): string => {
    const open = pos;
    const openLine = lineNo;
    pos++;
    let out = '';
    let chunkStart = pos;
    while (pos < n) {
      const c = body.charCodeAt(pos);
      if (c === BACKSLASH && (body.charCodeAt(pos + 1) === QUOTE || body.charCodeAt(pos + 1) === BACKSLASH)) {
        out += body.slice(chunkStart, pos);
        chunkStart = pos + 1;
        pos += 2;
        continue;
      }
      if (c === QUOTE) {
        out += body.slice(chunkStart, pos);
        pos++;
        return out;
      }
      if (c === NEWLINE) lineNo++;
      pos++;
    }
    // Resume at the line after the opening quote: the lines after it are not swallowed with it.
    pos = open;
    lineNo = openLine;
    throw new LineSyntaxError('string field value has no closing quote');
  };

  const readFieldValue = (key: string): LineFieldValue => {
    if (body.charCodeAt(pos) === QUOTE) return readStringValue();
    const start = pos;
    while (pos < n) {
      const c = body.charCodeAt(pos);
      if (c === COMMA || c === SPACE || c === NEWLINE || c === CR) break;
      pos++;
    }
    const raw = body.slice(start, pos);
    if (raw === '') throw new LineSyntaxError(`field "${key}" has no value`);
    const last = raw.charCodeAt(raw.length - 1);
    if (last === 105 /* i */ || last === 117 /* u */) {
      const digits = raw.slice(0, -1);
      if (!(last === 105 ? INTEGER : UNSIGNED).test(digits))
        throw new LineSyntaxError(`field "${key}" has an invalid ${last === 105 ? 'integer' : 'unsigned'} "${raw}"`);
      const v = Number(digits);
      if (!Number.isSafeInteger(v))
        throw new LineSyntaxError(
          `field "${key}" = ${raw} is beyond ±2^53-1, which a point's number value cannot carry exactly`,
        );
      return v;
    }
    const bool = BOOLEANS[raw];
    if (bool !== undefined) return bool;
    if (!FLOAT.test(raw)) throw new LineSyntaxError(`field "${key}" has an invalid value "${raw}"`);
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new LineSyntaxError(`field "${key}" = ${raw} is not a finite number`);
    return v;
  };

  const parseLine = (): ProtocolLine => {
    const line = lineNo;
    const measurement = readToken(', ', ', ', 'measurement');
    let tags: Record<string, string> | undefined;
    while (body.charCodeAt(pos) === COMMA) {
      pos++;
      const key = readToken('=, ', ',= ', `tag key at column ${column()}`);
      expect(EQUALS, `"=" after tag key "${key}"`);
      const value = readToken(', ', ',= ', `value of tag "${key}"`);
      (tags ??= {})[key] = value;
    }
    if (body.charCodeAt(pos) !== SPACE) throw new LineSyntaxError(`expected a space and fields at column ${column()}`);
    while (body.charCodeAt(pos) === SPACE) pos++;
    const fields = new Map<string, LineFieldValue>();
    for (;;) {
      const key = readToken('=, ', ',= ', `field key at column ${column()}`);
      expect(EQUALS, `"=" after field key "${key}"`);
      fields.set(key, readFieldValue(key));
      if (body.charCodeAt(pos) !== COMMA) break;
      pos++;
    }
    let timestamp: string | undefined;
    while (body.charCodeAt(pos) === SPACE) pos++;
    const tsStart = pos;
    while (pos < n && body.charCodeAt(pos) !== NEWLINE && body.charCodeAt(pos) !== SPACE && body.charCodeAt(pos) !== CR)
      pos++;
    if (pos > tsStart) {
      timestamp = body.slice(tsStart, pos);
      if (!TIMESTAMP.test(timestamp)) throw new LineSyntaxError(`invalid timestamp "${timestamp}"`);
    }
    while (body.charCodeAt(pos) === SPACE || body.charCodeAt(pos) === TAB || body.charCodeAt(pos) === CR) pos++;
    if (pos < n && body.charCodeAt(pos) !== NEWLINE)
      throw new LineSyntaxError(`unexpected "${body[pos]}" at column ${column()} after the timestamp`);
    return { line, measurement, tags, fields, timestamp };
  };

  while (pos < n) {
    lineStart = pos;
    const first = body.charCodeAt(pos);
    const blank = first === NEWLINE || first === CR || first === SPACE || first === TAB;
    if (first === HASH || blank) {
      // A comment, or a line of whitespace: skip it (anything else after leading whitespace is an error).
      while (pos < n && (body.charCodeAt(pos) === SPACE || body.charCodeAt(pos) === TAB || body.charCodeAt(pos) === CR))
        pos++;
      if (first === HASH || pos >= n || body.charCodeAt(pos) === NEWLINE) {
        const end = body.indexOf('\n', pos);
        pos = end < 0 ? n : end + 1;
        lineNo++;
        continue;
      }
      errors.push({ line: lineNo, message: 'line starts with whitespace' });
    } else {
      try {
        lines.push(parseLine());
      } catch (err) {
        if (!(err instanceof LineSyntaxError)) throw err;
        errors.push({ line: lineNo, message: err.message });
      }
    }
    // Skip to the next line (the rest of a bad line, or the newline after a good one).
    const end = body.indexOf('\n', pos);
    pos = end < 0 ? n : end + 1;
    lineNo++;
  }
  return { lines, errors };
}
