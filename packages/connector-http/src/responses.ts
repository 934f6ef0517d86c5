import { AuthError, CapacityError, ConfigError, TransientError, type BifrostError } from '@bifrost/core';

/** Characters of a response body quoted in error reasons. */
export const REASON_CHARS = 200;

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`); a date in the past gives 0. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d+\.\d+$/.test(v)) return Math.round(Number(v) * 1000); // lenient: fractional seconds
  // An HTTP date always names its weekday and month; anything else (`-5`, `3 s`) is not one.
  const at = /[a-z]{3}/i.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The first {@link REASON_CHARS} characters of a body on one line, for error reasons. */
export function bodyExcerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > REASON_CHARS ? `${flat.slice(0, REASON_CHARS)}…` : flat;
}

/** What a response means for the points of its request. */
export type ResponseClass =
  | { kind: 'ok' }
  /** 413: the body is too large; split the request. */
  | { kind: 'too-large'; reason: string }
  /** The server will not take these points (4xx): dead-letter them, or the ones `partial_response` names. */
  | { kind: 'payload'; reason: string }
  /** Retry the request later (the error says how). */
  | { kind: 'error'; error: BifrostError };

function describe(status: number, body: string): string {
  const text = bodyExcerpt(body);
  return text ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}

/**
 * Classifies a response by status: 2xx ok; 408, 429 and 5xx retried (429 and 503, and any of them
 * with a `Retry-After`, as {@link CapacityError} carrying it); 401/403 {@link AuthError}; 404, 405
 * and 407 {@link ConfigError} (a wrong URL or method is not the points' fault: they stay queued);
 * 413 split; other 4xx payload; anything else (1xx, 3xx: redirects are not followed) ConfigError.
 */
export function classifyResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now: number = Date.now(),
): ResponseClass {
  const opts = (suffix: string) => ({ code: `BIFROST_ERR_HTTP_${suffix}` });
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const what = describe(status, body);
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(headers['retry-after'], now);
    if (retryAfterMs !== undefined || status === 429 || status === 503)
      return {
        kind: 'error',
        error: new CapacityError(
          `server busy (${what})${retryAfterMs === undefined ? '' : `; retry after ${retryAfterMs} ms`}`,
          retryAfterMs,
          opts(String(status)),
        ),
      };
    return { kind: 'error', error: new TransientError(`server error (${what})`, opts(String(status))) };
  }
  if (status === 401 || status === 403)
    return { kind: 'error', error: new AuthError(`credentials refused (${what})`, opts(String(status))) };
  if (status === 407)
    return { kind: 'error', error: new AuthError(`proxy credentials refused (${what})`, opts('407')) };
  if (status === 404 || status === 405)
    return {
      kind: 'error',
      error: new ConfigError(
        `endpoint or method not served (${what}); check endpoint and method`,
        opts(String(status)),
      ),
    };
  if (status === 413) return { kind: 'too-large', reason: `body too large (${what})` };
  if (status >= 400 && status < 500) return { kind: 'payload', reason: `points refused (${what})` };
  return {
    kind: 'error',
    error: new ConfigError(`unexpected response (${what}); redirects are not followed`, opts(String(status))),
  };
}

/** One point the server named in a partial response. */
export interface NamedRejection {
  /** Index into the request's points, or the point id. */
  index?: number;
  id?: string;
  reason?: string;
}

/** The value at a dot path (`a.b.0.c`) of parsed JSON, or undefined. */
export function atPath(root: unknown, path: string): unknown {
  let node = root;
  for (const key of path.split('.').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/**
 * The rejections a response body names at `path`: an array of indexes, ids, or objects with `index`
 * or `id` and `reason` / `error` / `message`. Undefined when the body is not JSON or the path holds
 * no array (the response names nobody).
 */
export function namedRejections(body: string, path: string): NamedRejection[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const list = atPath(parsed, path);
  if (!Array.isArray(list)) return undefined;
  const out: NamedRejection[] = [];
  for (const item of list) {
    if (typeof item === 'number' && Number.isInteger(item)) out.push({ index: item });
    else if (typeof item === 'string') out.push({ id: item });
    else if (item && typeof item === 'object') {
      const o = item as Record<string, unknown>;
      const reason = [o.reason, o.error, o.message].find((r): r is string => typeof r === 'string');
      if (typeof o.index === 'number' && Number.isInteger(o.index)) out.push({ index: o.index, reason });
      else if (typeof o.id === 'string') out.push({ id: o.id, reason });
    }
  }
  return out;
}
