import {
  AuthError,
  CapacityError,
  ConfigError,
  PayloadError,
  TransientError,
  isBifrostError,
  type BifrostError,
} from '@bifrost/core';

/** gRPC status codes (google.rpc.Code) the Pub/Sub API answers with. */
export const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(GRPC).map(([k, v]) => [v, k]));

/** The numeric gRPC status of a client error (a google-gax `GoogleError`, a `PublishError` wrapping one), if any. */
export function grpcCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; error?: { code?: unknown } } | undefined;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.error?.code === 'number') return e.error.code;
  return undefined;
}

/** Token errors of google-auth-library that mean the credentials themselves are refused. */
const AUTH_REFUSED = /invalid_grant|invalid_client|unauthorized_client|account not found|invalid jwt|private key/i;

/**
 * Classifies an error of the Pub/Sub client (gRPC status codes) for the host:
 * UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL (and CANCELLED, UNKNOWN, anything else) →
 * transient; RESOURCE_EXHAUSTED → capacity; UNAUTHENTICATED, PERMISSION_DENIED → auth; NOT_FOUND
 * → config naming the topic; INVALID_ARGUMENT → payload. Messages are not prefixed (the host does).
 */
export function classifyPubSubError(err: unknown, topicPath: string, ids?: readonly string[]): BifrostError {
  if (isBifrostError(err)) return err;
  const code = grpcCode(err);
  const raw = (err as { details?: unknown; message?: unknown } | undefined) ?? {};
  const detail =
    typeof raw.details === 'string' && raw.details
      ? raw.details
      : typeof raw.message === 'string'
        ? raw.message
        : String(err);
  const name = code === undefined ? undefined : (NAMES[code] ?? `code ${code}`);
  const opts = (suffix: string) => ({ code: `BIFROST_ERR_PUBSUB_${suffix}`, cause: err });
  // A token that could not be had surfaces as UNAVAILABLE ("Getting metadata from plugin failed");
  // when the token endpoint refused the key, retrying will not help.
  if (/metadata from plugin failed/i.test(detail) && AUTH_REFUSED.test(detail))
    return new AuthError(`credentials refused when fetching a token: ${detail}`, opts('CREDENTIALS'));
  switch (code) {
    case GRPC.UNAVAILABLE:
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.ABORTED:
    case GRPC.INTERNAL:
      return new TransientError(`publish to ${topicPath} failed: ${name}: ${detail}`, opts(name!));
    case GRPC.RESOURCE_EXHAUSTED:
      return new CapacityError(
        `publish to ${topicPath} refused: RESOURCE_EXHAUSTED (quota or flow control): ${detail}`,
        undefined,
        opts('RESOURCE_EXHAUSTED'),
      );
    case GRPC.UNAUTHENTICATED:
      return new AuthError(
        `publish to ${topicPath} refused: UNAUTHENTICATED: ${detail}; check credentials_file or the Application Default Credentials`,
        opts('UNAUTHENTICATED'),
      );
    case GRPC.PERMISSION_DENIED:
      return new AuthError(
        `publish to ${topicPath} refused: PERMISSION_DENIED: ${detail}; the account needs roles/pubsub.publisher on the topic`,
        opts('PERMISSION_DENIED'),
      );
    case GRPC.NOT_FOUND:
      return new ConfigError(
        `topic ${topicPath} not found (NOT_FOUND: ${detail}); create it (gcloud pubsub topics create) or fix topic / project_id`,
        opts('TOPIC_NOT_FOUND'),
      );
    case GRPC.INVALID_ARGUMENT:
      return new PayloadError(
        `Pub/Sub refused the message: INVALID_ARGUMENT: ${detail}`,
        ids ? [...ids] : undefined,
        opts('INVALID_ARGUMENT'),
      );
    case undefined:
    default:
      return new TransientError(
        `publish to ${topicPath} failed: ${name ?? 'no gRPC status'}: ${detail}`,
        opts(name ?? 'UNKNOWN'),
      );
  }
}
