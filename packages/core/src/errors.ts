/**
 * Classified errors. The delivery pipeline decides what to do from the class, never from the text:
 * retry ({@link TransientError}, {@link CapacityError}), stop and open the breaker ({@link AuthError},
 * {@link ConfigError}), or dead-letter the points ({@link PayloadError}, the rejected part of a
 * {@link PartialWriteError}). Every error carries a stable `code`.
 */
export type ErrorKind = 'transient' | 'capacity' | 'auth' | 'config' | 'payload' | 'partial';

const ERROR_KINDS: ReadonlySet<string> = new Set<ErrorKind>([
  'transient',
  'capacity',
  'auth',
  'config',
  'payload',
  'partial',
]);

/**
 * Brand on every {@link BifrostError}, shared by all copies of `@bifrost/core` in a process
 * (`Symbol.for`): a plugin that carries its own copy of core throws errors the host still
 * recognises, where `instanceof` would fail across the two copies.
 */
export const ERROR_BRAND = Symbol.for('bifrost.error');

export interface BifrostErrorOptions {
  /** Stable machine-readable code, e.g. `BIFROST_ERR_MQTT_NOT_AUTHORIZED`. */
  code?: string;
  cause?: unknown;
  /** `type:name` of the connector, used as the message prefix `[bifrost] [mqtt:plant-a]`. */
  connector?: string;
}

export abstract class BifrostError extends Error {
  declare readonly [ERROR_BRAND]: true;
  abstract readonly kind: ErrorKind;
  readonly code: string;
  connector?: string;

  constructor(message: string, defaultCode: string, opts: BifrostErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = opts.code ?? defaultCode;
    if (opts.connector) labelError(this, opts.connector);
    this.name = new.target.name;
  }
}
Object.defineProperty(BifrostError.prototype, ERROR_BRAND, { value: true });

/** Network hiccup, timeout, broker restarting: retry with backoff. */
export class TransientError extends BifrostError {
  readonly kind = 'transient' as const;
  constructor(message: string, opts?: BifrostErrorOptions) {
    super(message, 'BIFROST_ERR_TRANSIENT', opts);
  }
}

/** Rate limited, quota or flow control: retry, waiting at least `retryAfterMs` when the server said so. */
export class CapacityError extends BifrostError {
  readonly kind = 'capacity' as const;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    opts?: BifrostErrorOptions,
  ) {
    super(message, 'BIFROST_ERR_CAPACITY', opts);
  }
}

/** Bad credentials or not authorized: no blind retry; the breaker opens, health turns red, data stays queued. */
export class AuthError extends BifrostError {
  readonly kind = 'auth' as const;
  constructor(message: string, opts?: BifrostErrorOptions) {
    super(message, 'BIFROST_ERR_AUTH', opts);
  }
}

/** Wrong endpoint, missing topic or table, invalid settings: like {@link AuthError}, data stays queued. */
export class ConfigError extends BifrostError {
  readonly kind = 'config' as const;
  constructor(message: string, opts?: BifrostErrorOptions) {
    super(message, 'BIFROST_ERR_CONFIG', opts);
  }
}

/**
 * The remote side will never accept these points (poison). `pointIds` names them; when absent the
 * whole batch is poison. They go to the dead-letter table with this message as the reason.
 */
export class PayloadError extends BifrostError {
  readonly kind = 'payload' as const;
  constructor(
    message: string,
    readonly pointIds?: string[],
    opts?: BifrostErrorOptions,
  ) {
    super(message, 'BIFROST_ERR_PAYLOAD', opts);
  }
}

/** One rejected point of a partial write and why. */
export interface RejectedPoint {
  id: string;
  reason: string;
  /** `payload` (poison, dead-letter it) or `transient` (retry it). Defaults to `payload`. */
  kind?: 'payload' | 'transient';
}

/** Some points were acknowledged, others rejected; accepted ones are acked, rejected ones handled by kind. */
export class PartialWriteError extends BifrostError {
  readonly kind = 'partial' as const;
  constructor(
    readonly accepted: string[],
    readonly rejected: RejectedPoint[],
    opts?: BifrostErrorOptions,
  ) {
    super(
      `${accepted.length} point(s) accepted, ${rejected.length} rejected: ${rejected
        .slice(0, 3)
        .map((r) => r.reason)
        .join('; ')}`,
      'BIFROST_ERR_PARTIAL_WRITE',
      opts,
    );
  }
}

/**
 * Whether `e` is a classified error from any copy of `@bifrost/core`: it carries the
 * {@link ERROR_BRAND} and a known `kind`. Never `instanceof`, so errors from a plugin's own nested
 * copy of core are recognised as their kind.
 */
export function isBifrostError(e: unknown): e is BifrostError {
  if (typeof e !== 'object' || e === null) return false;
  const branded = e as { [ERROR_BRAND]?: unknown; kind?: unknown; code?: unknown };
  return (
    branded[ERROR_BRAND] === true &&
    typeof branded.kind === 'string' &&
    ERROR_KINDS.has(branded.kind) &&
    typeof branded.code === 'string'
  );
}

const LABEL_PREFIX = /^\[bifrost\] (\[[^\]]+\] )?/;

/**
 * Sets `connector` on a classified error (from any copy of core) and prefixes its message once:
 * `[bifrost] [mqtt:plant-a] ...`. A message already prefixed, by this host or by the plugin, keeps
 * one prefix.
 */
export function labelError<E extends BifrostError>(err: E, label: string): E {
  if (err.connector) return err;
  const mutable = err as { connector?: string; message: string };
  mutable.connector = label;
  mutable.message = `[bifrost] [${label}] ${err.message.replace(LABEL_PREFIX, '')}`;
  return err;
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'ESOCKETTIMEDOUT',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ABORT_ERR',
]);

/** TLS failures that retrying will not fix: wrong CA, expired or mismatched certificates. */
const TLS_CONFIG_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * Turns any thrown value into a classified error so connectors need not: Node network errors
 * (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ...) become {@link TransientError}, certificate problems
 * become {@link ConfigError} with the reason, TLS alerts from the server about our client certificate
 * become {@link AuthError}; a {@link BifrostError} passes through; anything unknown is transient (the
 * safe choice: data stays queued and is retried).
 */
export function classifyError(err: unknown, connector?: string): BifrostError {
  const out = classify(err);
  return connector ? labelError(out, connector) : out;
}

function classify(err: unknown): BifrostError {
  if (isBifrostError(err)) return err;
  const e = (err ?? {}) as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  if (code && TLS_CONFIG_CODES.has(code)) {
    return new ConfigError(`TLS: ${message} (${code})`, { code: `BIFROST_ERR_TLS_${code}`, cause: err });
  }
  if (code?.startsWith('ERR_SSL_') && /alert (certificate|bad certificate|unknown ca|handshake)/i.test(message)) {
    return new AuthError(`TLS handshake rejected by the server: ${message}`, {
      code: 'BIFROST_ERR_TLS_REJECTED',
      cause: err,
    });
  }
  if (code && TRANSIENT_CODES.has(code))
    return new TransientError(message, { code: `BIFROST_ERR_NET_${code}`, cause: err });
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return new TransientError(message, { code: 'BIFROST_ERR_TIMEOUT', cause: err });
  return new TransientError(message, { code: code ? `BIFROST_ERR_${code}` : 'BIFROST_ERR_UNKNOWN', cause: err });
}
