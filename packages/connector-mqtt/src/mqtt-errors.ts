import { AuthError, CapacityError, ConfigError, TransientError, classifyError, type BifrostError } from '@bifrost/core';

/** MQTT 3.1.1 CONNACK return codes and MQTT 5 reason codes this connector acts on. */
export const ReasonCode = {
  V3_UNACCEPTABLE_PROTOCOL: 1,
  V3_IDENTIFIER_REJECTED: 2,
  V3_SERVER_UNAVAILABLE: 3,
  V3_BAD_CREDENTIALS: 4,
  V3_NOT_AUTHORIZED: 5,
  UNSPECIFIED: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC: 0x83,
  UNSUPPORTED_PROTOCOL: 0x84,
  CLIENT_ID_INVALID: 0x85,
  BAD_CREDENTIALS: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  BAD_AUTH_METHOD: 0x8c,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  USE_ANOTHER_SERVER: 0x9c,
  SERVER_MOVED: 0x9d,
  CONNECTION_RATE_EXCEEDED: 0x9f,
} as const;

/** How long to wait before retrying when the broker says it is busy or over quota. */
const CAPACITY_RETRY_AFTER_MS = 1_000;

const hex = (rc: number) => `0x${rc.toString(16).padStart(2, '0')}`;

/**
 * Classifies a refused CONNECT (MQTT 3.1.1 return code 1-5 or MQTT 5 reason code >= 0x80): bad
 * credentials and not authorized are {@link AuthError}, a rejected protocol or client id is a
 * {@link ConfigError}, a busy broker a {@link CapacityError}, the rest transient.
 */
export function classifyConnack(rc: number, message: string, cause?: unknown): BifrostError {
  const text = `broker refused the connection: ${message} (CONNACK ${rc < 0x80 ? rc : hex(rc)})`;
  const opts = { code: `BIFROST_ERR_MQTT_CONNACK_${rc < 0x80 ? rc : hex(rc)}`, cause };
  switch (rc) {
    case ReasonCode.V3_BAD_CREDENTIALS:
    case ReasonCode.BAD_CREDENTIALS:
    case ReasonCode.BAD_AUTH_METHOD:
      return new AuthError(text, { ...opts, code: 'BIFROST_ERR_MQTT_BAD_CREDENTIALS' });
    case ReasonCode.V3_NOT_AUTHORIZED:
    case ReasonCode.NOT_AUTHORIZED:
    case ReasonCode.BANNED:
      return new AuthError(text, { ...opts, code: 'BIFROST_ERR_MQTT_NOT_AUTHORIZED' });
    case ReasonCode.V3_UNACCEPTABLE_PROTOCOL:
    case ReasonCode.UNSUPPORTED_PROTOCOL:
      return new ConfigError(`${text}; try another protocol_version`, opts);
    case ReasonCode.V3_IDENTIFIER_REJECTED:
    case ReasonCode.CLIENT_ID_INVALID:
      return new ConfigError(`${text}; check client_id`, opts);
    case ReasonCode.USE_ANOTHER_SERVER:
    case ReasonCode.SERVER_MOVED:
      return new ConfigError(`${text}; check endpoint`, opts);
    case ReasonCode.SERVER_BUSY:
    case ReasonCode.QUOTA_EXCEEDED:
    case ReasonCode.CONNECTION_RATE_EXCEEDED:
      return new CapacityError(text, CAPACITY_RETRY_AFTER_MS, opts);
    default:
      return new TransientError(text, opts);
  }
}

/** Verdict on one PUBACK / PUBREC / PUBCOMP reason code >= 0x80. */
export type PublishVerdict =
  /** The broker will never take this message: dead-letter its points with `reason`. */
  | { poison: true; reason: string; code: string }
  /** The whole write fails with this error (auth, capacity, transient). */
  | { poison: false; error: BifrostError };

/**
 * Classifies a negative publish acknowledgement (MQTT 5): not authorized is {@link AuthError}
 * (data stays queued), quota exceeded and rate too high {@link CapacityError}; an invalid payload
 * or topic, a packet too large, or a message the broker refuses for its own reasons (0x83, e.g.
 * Mosquitto's `message_size_limit`) make that message poison; anything else is transient.
 */
export function classifyPublishReason(rc: number, message: string): PublishVerdict {
  const text = `broker rejected the message: ${message || 'error'} (reason code ${hex(rc)})`;
  const code = `BIFROST_ERR_MQTT_PUBLISH_${hex(rc)}`;
  switch (rc) {
    case ReasonCode.NOT_AUTHORIZED:
      return {
        poison: false,
        error: new AuthError(`${text}; the user may not publish to this topic`, {
          code: 'BIFROST_ERR_MQTT_NOT_AUTHORIZED',
        }),
      };
    case ReasonCode.QUOTA_EXCEEDED:
    case ReasonCode.MESSAGE_RATE_TOO_HIGH:
      return { poison: false, error: new CapacityError(text, CAPACITY_RETRY_AFTER_MS, { code }) };
    case ReasonCode.PAYLOAD_FORMAT_INVALID:
    case ReasonCode.PACKET_TOO_LARGE:
    case ReasonCode.TOPIC_NAME_INVALID:
    case ReasonCode.IMPLEMENTATION_SPECIFIC:
      return { poison: true, reason: text, code };
    case ReasonCode.RETAIN_NOT_SUPPORTED:
    case ReasonCode.QOS_NOT_SUPPORTED:
      return { poison: false, error: new ConfigError(`${text}; change retain / qos`, { code }) };
    default:
      return { poison: false, error: new TransientError(text, { code }) };
  }
}

/** An error mqtt.js attached an MQTT reason code to (CONNACK or publish acknowledgement). */
export function reasonCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Classifies anything mqtt.js threw or emitted while connecting: CONNACK codes, TLS and network errors. */
export function classifyConnectError(err: unknown): BifrostError {
  const rc = reasonCodeOf(err);
  if (rc !== undefined && rc > 0) return classifyConnack(rc, (err as Error).message, err);
  return classifyError(err);
}
