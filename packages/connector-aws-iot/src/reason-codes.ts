import { AuthError, CapacityError, ConfigError, PayloadError, TransientError, type BifrostError } from '@bifrost/core';

/** MQTT 5 reason codes AWS IoT Core sends in CONNACK, PUBACK and DISCONNECT that this connector acts on. */
export const ReasonCode = {
  NO_MATCHING_SUBSCRIBERS: 0x10,
  UNSPECIFIED: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC: 0x83,
  CLIENT_ID_INVALID: 0x85,
  BAD_CREDENTIALS: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  BAD_AUTH_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  QOS_NOT_SUPPORTED: 0x9b,
  CONNECTION_RATE_EXCEEDED: 0x9f,
} as const;

/** How long to wait before retrying when AWS IoT says it is busy or the account is over quota. */
export const CAPACITY_RETRY_AFTER_MS = 1_000;

const hex = (rc: number) => `0x${rc.toString(16).padStart(2, '0')}`;

/**
 * Classifies a reason code that ends a connection or refuses one (CONNACK, DISCONNECT): not
 * authorized, bad credentials and banned are {@link AuthError} (the certificate or the IoT policy);
 * server busy, quota and rate exceeded a {@link CapacityError}; packet too large a
 * {@link PayloadError}; an invalid client id or unsupported QoS a {@link ConfigError}; the rest
 * (session taken over included) transient.
 */
export function classifyReasonCode(rc: number, what: string, reason?: string): BifrostError {
  const text = `${what} (reason code ${hex(rc)}${reason ? `: ${reason}` : ''})`;
  const code = `BIFROST_ERR_AWS_IOT_${hex(rc)}`;
  switch (rc) {
    case ReasonCode.NOT_AUTHORIZED:
    case ReasonCode.BAD_CREDENTIALS:
    case ReasonCode.BANNED:
    case ReasonCode.BAD_AUTH_METHOD:
      return new AuthError(
        `${text}: not authorized; check that the certificate is active and attached to the thing, and that its IoT policy allows iot:Connect for this client id and iot:Publish on these topics`,
        { code: 'BIFROST_ERR_AWS_IOT_NOT_AUTHORIZED' },
      );
    case ReasonCode.SERVER_BUSY:
    case ReasonCode.SERVER_UNAVAILABLE:
    case ReasonCode.QUOTA_EXCEEDED:
    case ReasonCode.MESSAGE_RATE_TOO_HIGH:
    case ReasonCode.CONNECTION_RATE_EXCEEDED:
      return new CapacityError(`${text}: AWS IoT is throttling this connection or account`, CAPACITY_RETRY_AFTER_MS, {
        code,
      });
    case ReasonCode.PACKET_TOO_LARGE:
      return new PayloadError(`${text}: packet too large`, undefined, { code });
    case ReasonCode.CLIENT_ID_INVALID:
      return new ConfigError(`${text}: client id refused; check client_id`, { code });
    case ReasonCode.QOS_NOT_SUPPORTED:
      return new ConfigError(`${text}: QoS not supported; check qos`, { code });
    case ReasonCode.SESSION_TAKEN_OVER:
      return new TransientError(`${text}: session taken over by another connection with the same client id`, {
        code: 'BIFROST_ERR_AWS_IOT_SESSION_TAKEN_OVER',
      });
    default:
      return new TransientError(text, { code });
  }
}

/** Verdict on a PUBACK reason code. */
export type PubackVerdict =
  | { ok: true }
  /** AWS IoT will never take this message: dead-letter its points with `reason`. */
  | { ok: false; poison: true; reason: string }
  /** The whole write fails with this error. */
  | { ok: false; poison: false; error: BifrostError };

/**
 * Classifies a PUBACK: success and "no matching subscribers" (AWS IoT took the message) are ok;
 * an invalid topic or payload, a packet too large or a refusal for the broker's own reasons (0x83)
 * make the message poison; anything else fails the write as {@link classifyReasonCode} says.
 */
export function classifyPuback(rc: number, reason?: string): PubackVerdict {
  if (rc < 0x80) return { ok: true };
  switch (rc) {
    case ReasonCode.TOPIC_NAME_INVALID:
    case ReasonCode.PACKET_TOO_LARGE:
    case ReasonCode.PAYLOAD_FORMAT_INVALID:
    case ReasonCode.IMPLEMENTATION_SPECIFIC:
      return {
        ok: false,
        poison: true,
        reason: `AWS IoT refused the message (PUBACK reason code ${hex(rc)}${reason ? `: ${reason}` : ''})`,
      };
    default:
      return { ok: false, poison: false, error: classifyReasonCode(rc, 'AWS IoT refused the message', reason) };
  }
}

/** Error names of aws-c-io for a failed TLS handshake (certificate refused or not trusted). */
const TLS_HANDSHAKE = /^AWS_IO_TLS_|S2N_ERR/;

/**
 * Classifies a connect attempt that failed before any CONNACK: a failed TLS handshake is an
 * {@link AuthError} (AWS IoT ends the handshake when the device certificate is unknown, inactive,
 * revoked or expired, and the connector refuses a server certificate it does not trust), the rest
 * (DNS, refused, reset, timeouts) transient.
 */
export function classifyConnectFailure(errorName: string | undefined, message: string, host: string): BifrostError {
  const name = errorName ?? 'AWS_ERROR_UNKNOWN';
  if (TLS_HANDSHAKE.test(name))
    return new AuthError(
      `TLS handshake with ${host} failed (${name}): a certificate was refused; check that the device certificate is active, not expired and registered, and that ca_file holds the CA of the server certificate (Amazon Root CA 1 for AWS IoT)`,
      { code: 'BIFROST_ERR_AWS_IOT_TLS_HANDSHAKE' },
    );
  return new TransientError(`could not connect to ${host}: ${message} (${name})`, {
    code: `BIFROST_ERR_AWS_IOT_CONNECT_${name.replace(/^AWS_(ERROR|IO)_/, '')}`,
  });
}
