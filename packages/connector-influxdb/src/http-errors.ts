import { HttpError } from '@influxdata/influxdb-client';
import { AuthError, CapacityError, ConfigError, TransientError, classifyError, type BifrostError } from '@bifrost/core';

/** The server's own words: `{"error": ...}` (1.x), `{"message": ...}` (2.x) or the raw body. */
export function serverMessage(err: HttpError): string {
  const json = err.json as { error?: unknown; message?: unknown } | undefined;
  const text: unknown = json?.error ?? json?.message ?? err.body ?? err.statusMessage ?? '';
  return (typeof text === 'string' ? text : JSON.stringify(text)).trim() || `HTTP ${err.statusCode}`;
}

/** 400 messages about the request itself, not about some lines: no line is to blame. */
const REQUEST_LEVEL_400 =
  /database is required|bucket|organization|invalid precision|retention policy not found|unsupported|authoriz/i;

/**
 * Outcome of a failed write request. `lines`: the server rejected (some of) the lines themselves
 * (400, 413 or 422), so the caller finds which and dead-letters only those. Otherwise a classified error.
 */
export type WriteFailure = { kind: 'lines'; status: number; message: string } | { kind: 'error'; error: BifrostError };

/**
 * Maps a failed request to a {@link WriteFailure}: 400/413/422 are about lines (the caller isolates
 * them); 401/403 AuthError, 404 (database or bucket not
 * found) and other request-level 4xx ConfigError, 429/503 CapacityError with the server's
 * Retry-After, other 5xx TransientError, network errors through core `classifyError`.
 */
export function classifyWriteFailure(err: unknown): WriteFailure {
  if (!(err instanceof HttpError)) return { kind: 'error', error: classifyError(err) };
  const status = err.statusCode;
  const message = serverMessage(err);
  const code = (suffix: string) => ({ code: `BIFROST_ERR_INFLUXDB_${suffix}`, cause: err });
  if (status === 401 || status === 403)
    return {
      kind: 'error',
      error: new AuthError(`InfluxDB refused the credentials (HTTP ${status}): ${message}`, code('UNAUTHORIZED')),
    };
  if (status === 404)
    return {
      kind: 'error',
      error: new ConfigError(`InfluxDB: ${message} (HTTP 404); create it or fix database/bucket`, code('NOT_FOUND')),
    };
  if (status === 429 || status === 503) {
    const seconds = err.retryAfter();
    return {
      kind: 'error',
      error: new CapacityError(
        `InfluxDB is overloaded (HTTP ${status}): ${message}`,
        seconds > 0 ? seconds * 1000 : undefined,
        code(`HTTP_${status}`),
      ),
    };
  }
  // 413: body too large (split it); 422: InfluxDB 2.x refusing some points (e.g. outside the retention period).
  if (status === 413 || status === 422) return { kind: 'lines', status, message };
  if (status === 400) {
    if (REQUEST_LEVEL_400.test(message) && !/unable to parse|partial write/i.test(message)) {
      return {
        kind: 'error',
        error: new ConfigError(`InfluxDB rejected the request (HTTP 400): ${message}`, code('BAD_REQUEST')),
      };
    }
    return { kind: 'lines', status, message };
  }
  if (status >= 500)
    return {
      kind: 'error',
      error: new TransientError(`InfluxDB server error (HTTP ${status}): ${message}`, code(`HTTP_${status}`)),
    };
  return {
    kind: 'error',
    error: new ConfigError(`InfluxDB answered HTTP ${status}: ${message}`, code(`HTTP_${status}`)),
  };
}

/**
 * Indices of the lines a 400 message names, with the server's reason: 1.x quotes each bad line
 * (`unable to parse '<line>': <reason>`), 2.x numbers them (`line 3: <reason>`, 1-based). Empty
 * when the message names none (e.g. a field type conflict), and the caller has to bisect.
 */
export function namedLines(message: string, lines: readonly string[]): Map<number, string> {
  const found = new Map<number, string>();
  for (const [, num, reason = ''] of message.matchAll(/line (\d+): ([^\n]*)/g)) {
    const i = Number(num) - 1;
    if (i >= 0 && i < lines.length) found.set(i, reason.trim());
  }
  if (found.size) return found;
  lines.forEach((line, i) => {
    const quoted = `unable to parse '${line}': `;
    const at = message.indexOf(quoted);
    if (at < 0) return;
    const rest = message.slice(at + quoted.length);
    const [firstLine = ''] = rest.split('\n', 1);
    found.set(i, `unable to parse line: ${firstLine.replace(/ dropped=\d+$/, '')}`);
  });
  return found;
}
