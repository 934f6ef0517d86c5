/**
 * UTF-8 bytes of `JSON.stringify(value)`, counted without building the string: the host measures
 * every point against a connector's byte limit, and serialising each one only to count it cost
 * more than the write's own serialisation. Values JSON.stringify would treat specially (a
 * `toJSON` method, a bigint) are measured by serialising them. `undefined` (nothing to write) is 0.
 */
export function jsonBytes(value: unknown): number {
  return valueBytes(value) ?? 0;
}

/** {@link jsonBytes} of a plain object without the property `skip` (the wire form of a point). */
export function jsonObjectBytes(object: Readonly<Record<string, unknown>>, skip?: string): number {
  if (typeof object.toJSON === 'function') return serializedBytes(object);
  let n = 2;
  let first = true;
  for (const key of Object.keys(object)) {
    if (key === skip) continue;
    const v = valueBytes(object[key]);
    if (v === undefined) continue;
    n += (first ? 0 : 1) + keyBytes(key) + 1 + v;
    first = false;
  }
  return n;
}

/** Bytes of one JSON value, or undefined where JSON.stringify omits it (undefined, function, symbol). */
function valueBytes(value: unknown): number | undefined {
  switch (typeof value) {
    case 'string':
      return stringBytes(value);
    case 'number':
      return Number.isFinite(value) ? numberBytes(value) : 4;
    case 'boolean':
      return value ? 4 : 5;
    case 'object':
      if (value === null) return 4;
      if (Array.isArray(value)) return arrayBytes(value);
      return isPlainObject(value) ? jsonObjectBytes(value) : serializedBytes(value);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      return serializedBytes(value); // throws, as JSON.stringify does
  }
}

/** Objects JSON.stringify writes as their own enumerable properties (not a Date, a boxed number...). */
function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function arrayBytes(items: readonly unknown[]): number {
  if ('toJSON' in items && typeof items.toJSON === 'function') return serializedBytes(items);
  let n = 2 + Math.max(0, items.length - 1);
  for (const item of items) n += valueBytes(item) ?? 4;
  return n;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

function numberBytes(n: number): number {
  if (!Number.isSafeInteger(n)) return String(n).length;
  const a = Math.abs(n);
  let digits = 1;
  while (digits < 16 && a >= POWERS_OF_TEN[digits]!) digits++;
  return n < 0 ? digits + 1 : digits;
}

/** Byte lengths of object keys seen: points repeat a handful of keys. Bounded, keys past it are counted each time. */
const keyLengths = new Map<string, number>();
const MAX_CACHED_KEYS = 1024;

function keyBytes(key: string): number {
  let n = keyLengths.get(key);
  if (n === undefined) {
    n = stringBytes(key);
    if (keyLengths.size < MAX_CACHED_KEYS) keyLengths.set(key, n);
  }
  return n;
}

/** Printable ASCII without `"` and `\`: one byte a character, no escapes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function stringBytes(s: string): number {
  if (PLAIN.test(s)) return s.length + 2;
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += c === 0x22 || c === 0x5c || SHORT_ESCAPES.has(c) ? 2 : c < 0x20 ? 6 : 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff)
      n += 6; // a lone surrogate is written as \udXXX
    else n += 3;
  }
  return n;
}

/** Control characters JSON.stringify writes as two characters (\b \t \n \f \r). */
const SHORT_ESCAPES = new Set([0x08, 0x09, 0x0a, 0x0c, 0x0d]);

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function serializedBytes(value: unknown): number {
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined ? 0 : Buffer.byteLength(json);
}
