import {
  AuthError,
  CapacityError,
  ConfigError,
  PayloadError,
  TransientError,
  classifyError,
  isBifrostError,
  type BifrostError,
} from '@bifrost/core';

/** What the connection was for, so an error can say what to check. */
export interface ErrorScene {
  /** `<hub>/<device>[/<module>]`. */
  identity: string;
  auth: 'key' | 'token' | 'x509';
}

/**
 * The MQTT transport turns any failure of a client's first connection (DNS, refused socket, TLS)
 * into `UnauthorizedError('Failure on first connection (Not authorized): <original message>')`,
 * dropping the original error; only a refused CONNACK there is really about credentials.
 */
const FIRST_CONNECTION = /Failure on first connection \(Not authorized\): (.*)$/s;
const CONNACK_REFUSED = /Connection refused: (Not authorized|Bad username or password|Identifier rejected)/i;

/** Node's TLS verification messages, back to the codes core classifies. */
const TLS_MESSAGES: ReadonlyArray<[RegExp, string]> = [
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get local issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/does not match certificate's altnames/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
];

/** A socket or TLS error rebuilt from its message (`getaddrinfo ENOTFOUND host`, a TLS verification text). */
function socketErrorOf(message: string): Error & { code?: string } {
  const tls = TLS_MESSAGES.find(([re]) => re.test(message));
  const code = tls?.[1] ?? /\b(E[A-Z]{3,})\b/.exec(message)?.[1];
  return Object.assign(
    new Error(`connection to IoT Hub failed: ${message.replace(/ error$/, '')}`),
    code ? { code } : {},
  );
}

/** `NotConnectedError` -> `NOT_CONNECTED`. */
const snake = (name: string) =>
  name
    .replace(/Error$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase() || 'TRANSIENT';

const code = (suffix: string) => `BIFROST_ERR_AZURE_IOT_${suffix}`;

function credentialHint(scene: ErrorScene): string {
  switch (scene.auth) {
    case 'x509':
      return "check that the device is registered with this certificate's thumbprint (or its CA) and that the certificate is valid";
    case 'token':
      return 'the SharedAccessSignature in the connection string may have expired or be for another device';
    case 'key':
      return 'check SharedAccessKey and DeviceId against the device identity in the hub';
  }
}

/**
 * Classifies an error of the Azure IoT device SDK (the `azure-iot-common` error classes, by name):
 * `UnauthorizedError` (a refused CONNACK) and `DeviceNotFoundError` → auth; `ThrottlingError`,
 * `IotHubQuotaExceededError`, `DeviceMaximumQueueDepthExceededError`, `IoTHubSuspendedError` →
 * capacity; `MessageTooLargeError`, `FormatError` → payload (for `ids`); `IotHubNotFoundError` →
 * config; `NotConnectedError`, `TimeoutError`, `ServiceUnavailableError`, `InternalServerError` and
 * the rest → transient, except a TLS certificate failure underneath (the SDK wraps socket errors
 * in `NotConnectedError`), which core classifies as config.
 */
export function classifyAzureError(err: unknown, scene: ErrorScene, ids?: readonly string[]): BifrostError {
  if (isBifrostError(err)) return err;
  const e = (err ?? {}) as { name?: unknown; message?: unknown; transportError?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  const opts = (suffix: string) => ({ code: code(suffix), cause: err });
  const first = FIRST_CONNECTION.exec(message);
  if (first?.[1] !== undefined && !CONNACK_REFUSED.test(first[1])) return classifyError(socketErrorOf(first[1]));
  switch (name) {
    case 'UnauthorizedError':
    case 'DeviceNotFoundError':
      return new AuthError(
        `IoT Hub refused ${scene.identity} (${name}: ${message}); ${credentialHint(scene)}`,
        opts('UNAUTHORIZED'),
      );
    case 'ThrottlingError':
    case 'IotHubQuotaExceededError':
    case 'DeviceMaximumQueueDepthExceededError':
    case 'IoTHubSuspendedError':
      return new CapacityError(`IoT Hub is over a limit (${name}: ${message})`, undefined, opts('THROTTLED'));
    case 'MessageTooLargeError':
    case 'FormatError':
      return new PayloadError(
        `IoT Hub refused the message (${name}: ${message})`,
        ids ? [...ids] : undefined,
        opts(name === 'FormatError' ? 'FORMAT' : 'MESSAGE_TOO_LARGE'),
      );
    case 'IotHubNotFoundError':
      return new ConfigError(`IoT Hub not found (${message}); check HostName`, opts('HUB_NOT_FOUND'));
  }
  const underneath = classifyError(e.transportError ?? err);
  if (underneath.kind !== 'transient') return underneath;
  return new TransientError(`IoT Hub connection failed (${name}: ${message})`, opts(snake(name)));
}
