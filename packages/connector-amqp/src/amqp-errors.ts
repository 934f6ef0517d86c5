import { AuthError, ConfigError, TransientError, classifyError, type BifrostError } from '@bifrost/core';

/** AMQP reply codes (AMQP 0-9-1 spec, section 1.9) that retrying will not fix. */
const ACCESS_REFUSED = 403;
const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
const NOT_ALLOWED = 530;
const CONFIG_CODES: Record<number, string> = {
  [NOT_FOUND]: 'BIFROST_ERR_AMQP_NOT_FOUND',
  [PRECONDITION_FAILED]: 'BIFROST_ERR_AMQP_PRECONDITION_FAILED',
  [NOT_ALLOWED]: 'BIFROST_ERR_AMQP_NOT_ALLOWED',
};

/**
 * Classifies an amqplib failure. Server close frames carry a numeric reply code: 403 is an
 * AuthError (bad credentials, or no permission on the vhost or exchange), 404 / 406 / 530 are
 * ConfigErrors (missing exchange, exchange of another type, unknown or forbidden vhost); everything else,
 * including a broker shutting down (320) and lost sockets, is transient. A refused login during
 * the handshake only shows in the message text, so that is matched too.
 */
export function classifyAmqpError(err: unknown): BifrostError {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  const replyCode = typeof e.code === 'number' ? e.code : undefined;
  if (replyCode === ACCESS_REFUSED || /\b403 \(ACCESS[-_]REFUSED\)|ACCESS_REFUSED/.test(message)) {
    return new AuthError(`access refused by the broker: ${message}`, {
      code: 'BIFROST_ERR_AMQP_ACCESS_REFUSED',
      cause: err,
    });
  }
  if (replyCode !== undefined && CONFIG_CODES[replyCode]) {
    return new ConfigError(message, { code: CONFIG_CODES[replyCode], cause: err });
  }
  if (/\b530 \(NOT[-_]ALLOWED\)/.test(message)) {
    return new ConfigError(message, { code: CONFIG_CODES[NOT_ALLOWED], cause: err });
  }
  // amqplib drops the reply text when the broker closes instead of opening the vhost.
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return new ConfigError(
      `the broker refused the virtual host (unknown, or the user has no permission on it): ${message}`,
      {
        code: 'BIFROST_ERR_AMQP_VHOST_REFUSED',
        cause: err,
      },
    );
  }
  if (replyCode !== undefined)
    return new TransientError(message, { code: `BIFROST_ERR_AMQP_${replyCode}`, cause: err });
  return classifyError(err);
}
