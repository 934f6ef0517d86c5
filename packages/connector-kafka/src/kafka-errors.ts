import {
  AuthError,
  ConfigError,
  PayloadError,
  TransientError,
  classifyError,
  isBifrostError,
  type BifrostError,
} from '@bifrost/core';

/** Broker error types (Kafka protocol error names, as kafkajs reports them) that mean "not allowed". */
const AUTH_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);
/** The records themselves are refused: poison, never fixed by retrying. */
const PAYLOAD_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TIMESTAMP',
]);
/** Settings the broker rejects. */
const CONFIG_TYPES = new Set([
  'INVALID_TOPIC_EXCEPTION',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'POLICY_VIOLATION',
]);

interface KafkaJsLike {
  name?: unknown;
  type?: unknown;
  code?: unknown;
  message?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/** The error and what it wraps (kafkajs nests the real failure in `cause` after its own retries). */
function chain(err: unknown): KafkaJsLike[] {
  const out: KafkaJsLike[] = [];
  let e: unknown = err;
  while (e && typeof e === 'object' && out.length < 8 && !out.includes(e)) {
    out.push(e);
    const next = (e as KafkaJsLike).cause ?? (e as KafkaJsLike).originalError;
    e = next;
  }
  return out;
}

/**
 * Classifies a kafkajs failure: SASL failures and authorization errors are AuthErrors, refused
 * records (MESSAGE_TOO_LARGE, INVALID_RECORD, ...) PayloadErrors, rejected settings ConfigErrors,
 * socket and TLS problems as core classifies them, and every other error `retriable` in kafkajs's
 * eyes (leader moved, timeouts, broker down) transient. Unknown non-retriable errors stay transient
 * too: data stays queued.
 */
export function classifyKafkaError(err: unknown): BifrostError {
  if (isBifrostError(err)) return err;
  const errors = chain(err);
  const top = errors[0] ?? {};
  const message = typeof top.message === 'string' ? top.message : String(err);
  for (const e of errors) {
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      return new AuthError(`SASL authentication failed: ${String(e.message)}`, {
        code: 'BIFROST_ERR_KAFKA_SASL_AUTHENTICATION_FAILED',
        cause: err,
      });
    }
    if (typeof e.type === 'string') {
      const code = `BIFROST_ERR_KAFKA_${e.type}`;
      if (AUTH_TYPES.has(e.type)) return new AuthError(message, { code, cause: err });
      if (PAYLOAD_TYPES.has(e.type)) return new PayloadError(message, undefined, { code, cause: err });
      if (CONFIG_TYPES.has(e.type)) return new ConfigError(message, { code, cause: err });
      return new TransientError(message, { code, cause: err });
    }
    if (typeof e.code === 'string') return classifyError(e);
  }
  if (top.retriable === true) return new TransientError(message, { code: 'BIFROST_ERR_KAFKA_RETRIABLE', cause: err });
  return classifyError(err);
}
