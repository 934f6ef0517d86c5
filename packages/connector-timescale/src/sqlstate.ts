import {
  AuthError,
  CapacityError,
  ConfigError,
  PayloadError,
  TransientError,
  classifyError,
  type BifrostError,
} from '@bifrost/core';

/** The fields of a PostgreSQL error (`pg`'s DatabaseError) this module reads. */
interface PgErrorLike {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** The SQLSTATE of a PostgreSQL error, when it is one (five characters). */
export function sqlState(err: unknown): string | undefined {
  const code = (err as PgErrorLike | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for data errors (classes 22 and 23): the rows themselves are at fault, not the connection. */
export function isDataError(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/**
 * Classifies a PostgreSQL error by SQLSTATE: class 28 and 42501 → AuthError; class 53 and 57P
 * (server out of resources, shutting down or starting up) → CapacityError; classes 22, 23 →
 * PayloadError; class 08, 40 and 57014 (statement timeout) → TransientError; 3D000, 3F000 and the
 * rest of class 42 (missing table or column, wrong types) → ConfigError. Errors without a SQLSTATE
 * (network, TLS) go through core `classifyError`.
 */
export function classifyPgError(err: unknown): BifrostError {
  const state = sqlState(err);
  if (!state) return classifyError(err);
  const e = err as PgErrorLike;
  const detail = typeof e.detail === 'string' && e.detail ? ` (${e.detail})` : '';
  const message = `PostgreSQL ${state}: ${String(e.message)}${detail}`;
  const opts = { code: `BIFROST_ERR_PG_${state}`, cause: err };
  const cls = state.slice(0, 2);
  if (cls === '28' || state === '42501') return new AuthError(message, opts);
  if (cls === '53' || state.startsWith('57P')) return new CapacityError(message, undefined, opts);
  if (cls === '22' || cls === '23') return new PayloadError(message, undefined, opts);
  if (cls === '08' || cls === '40' || state === '57014') return new TransientError(message, opts);
  if (state === '3D000' || state === '3F000' || cls === '42') return new ConfigError(message, opts);
  return new TransientError(message, opts);
}
