import type { AzureIotConfig } from './config.js';
import type { DeviceConnection } from './connection-string.js';
import { CONTENT_ENCODING, CONTENT_TYPE, type PlannedMessage } from './messages.js';

/** What the connector uses of a device twin. */
export interface TwinLike {
  properties: { reported: { update(patch: object, done: (err?: Error) => void): void } };
}

/** What the connector uses of the SDK's `Client` / `ModuleClient`; a unit test may hand in a fake. */
export interface IotClientLike {
  open(): Promise<unknown>;
  close(): Promise<unknown>;
  sendEvent(message: unknown): Promise<unknown>;
  getTwin(): Promise<TwinLike>;
  setOptions(options: Record<string, unknown>): Promise<unknown>;
  on(event: 'disconnect' | 'error', listener: (err?: Error) => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/** The device SDK as the connector uses it: a client per connection, a `Message` per planned message. */
export interface AzureSdk {
  createClient(
    connectionString: string,
    connection: DeviceConnection,
    config: AzureIotConfig,
    x509?: { cert: string; key: string; passphrase?: string },
  ): IotClientLike;
  toMessage(planned: PlannedMessage): unknown;
}

/**
 * Loads `azure-iot-device`, `azure-iot-device-mqtt` and `azure-iot-common` (CommonJS, so through
 * their default export). Loaded on the first `connect`: a gateway without this connector never
 * loads the SDK.
 */
export async function loadAzureSdk(): Promise<AzureSdk> {
  const [{ default: device }, { default: transports }, { default: common }] = await Promise.all([
    import('azure-iot-device'),
    import('azure-iot-device-mqtt'),
    import('azure-iot-common'),
  ]);
  return {
    createClient(connectionString, connection, config, x509) {
      const transport = config.transport === 'mqtt-ws' ? transports.MqttWs : transports.Mqtt;
      const Ctor = connection.moduleId ? device.ModuleClient : device.Client;
      const ttl = Math.round(config.sas_ttl / 1000);
      // The SDK's own `fromConnectionString` drops ModuleId and GatewayHostName for tokens and X.509,
      // so the authentication providers are built here from the parsed connection string.
      const credentials = {
        host: connection.hostName,
        deviceId: connection.deviceId,
        ...(connection.moduleId && { moduleId: connection.moduleId }),
        ...(connection.gatewayHostName && { gatewayHostName: connection.gatewayHostName }),
      };
      const provider =
        connection.auth === 'key'
          ? // Tokens of `sas_ttl`, renewed (and the connection re-authenticated) a quarter before expiry.
            device.SharedAccessKeyAuthenticationProvider.fromConnectionString(
              connectionString,
              ttl,
              Math.max(1, Math.round(ttl / 4)),
            )
          : connection.auth === 'token'
            ? new device.SharedAccessSignatureAuthenticationProvider({
                ...credentials,
                sharedAccessSignature: connection.sharedAccessSignature,
              })
            : new device.X509AuthenticationProvider({ ...credentials, x509: x509 ?? {} });
      const client = Ctor.fromAuthenticationProvider(provider, transport);
      // Retries, backoff and the breaker are the host's; the SDK must fail fast and not retry on its own.
      client.setRetryPolicy(new common.NoRetry());
      return client as unknown as IotClientLike;
    },
    toMessage(planned) {
      const m = new device.Message(planned.body);
      m.messageId = planned.messageId;
      m.contentType = CONTENT_TYPE;
      m.contentEncoding = CONTENT_ENCODING;
      for (const [k, v] of planned.properties) m.properties.add(k, v);
      return m;
    },
  };
}
