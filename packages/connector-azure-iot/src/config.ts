import { durationSchema, pointTemplatePlaceholders, secret, z } from '@bifrost/core';

/** How points become IoT Hub messages. */
export const MESSAGE_MODES = ['point', 'batch'] as const;
export type MessageMode = (typeof MESSAGE_MODES)[number];

/** Application properties the connector sets on every message (batch mode: when all its points share the value). */
export const BUILTIN_PROPERTIES = ['device_id', 'tag_name', 'quality'] as const;

/** Default window of messages awaiting their PUBACK, chosen against the emulator (see the README). */
export const DEFAULT_MAX_INFLIGHT = 1000;

const placeholders = pointTemplatePlaceholders().join(', ');

/**
 * The Azure IoT Hub connector's settings (`provider_config`, flattened, in snake_case). The
 * connection string is a secret: the gateway fills it from `${ENV}` or `connection_string_file`
 * and redacts it.
 */
export const azureIotConfigSchema = z
  .strictObject({
    connection_string: secret(z.string().min(1)).describe(
      'Device (or module) connection string from the Azure portal or `az iot hub device-identity connection-string show`: `HostName=<hub>.azure-devices.net;DeviceId=<id>;SharedAccessKey=<key>` (a module adds `ModuleId=<id>`). A fixed `SharedAccessSignature=<token>` instead of the key is used as is, never renewed. With `x509: true`: `HostName=...;DeviceId=...;x509=true` (or no key at all). `GatewayHostName=<host[:port]>` connects there instead of `HostName` (an IoT Edge gateway).',
    ),
    x509: z
      .boolean()
      .default(false)
      .describe(
        "Authenticate with an X.509 client certificate: the connector's TLS `cert_file` and `key_file` (re-read on every reconnect, so a renewed certificate is picked up). The device must be registered with the certificate's thumbprint or a verified CA.",
      ),
    transport: z
      .enum(['mqtt', 'mqtt-ws'])
      .default('mqtt')
      .describe(
        '`mqtt`: MQTT over TLS on port 8883. `mqtt-ws`: MQTT over secure WebSockets on port 443, for networks that only let HTTPS out.',
      ),
    messages: z
      .enum(MESSAGE_MODES)
      .default('point')
      .describe(
        "`point`: one message per point, its body the point as JSON (`{id, deviceId, tagName, value, quality, timestamp, unit?, tags?}`), `messageId` the point id. `batch`: one message per batch (per set of property values), its body a JSON array of points, `messageId` derived from its point ids. Either way a message stays under IoT Hub's 256 KB limit (the host cuts batches by bytes); a point too large on its own is dead-lettered.",
      ),
    properties: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        `Extra application properties: name -> value, the value a point template (${placeholders}), e.g. \`{ line: '{tags.line}', site: plant-a }\`. Always set: \`device_id\`, \`tag_name\`, \`quality\` (batch mode: those its points share) and \`iothub-creation-time-utc\` (the point's timestamp; batch mode: the earliest). A property rendering empty is left out.`,
      ),
    max_inflight: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(DEFAULT_MAX_INFLIGHT)
      .describe(
        'Most messages of a write awaiting their PUBACK at once. A write succeeds only when every message was acknowledged.',
      ),
    sas_ttl: durationSchema
      .prefault('1h')
      .describe(
        'Lifetime of the SAS tokens made from `SharedAccessKey`; a new token is made and the connection renewed when three quarters of it have passed.',
      ),
    twin_update: z
      .boolean()
      .default(false)
      .describe(
        "Report the latest value of every device and tag in the device twin's reported properties (`{<device>: {<tag>: {value, quality, timestamp}}}`, names with `.`, `$`, spaces or control characters written with `_`), patched every `twin_interval`. Twin updates never hold up telemetry; a failed patch is retried at the next interval.",
      ),
    twin_interval: durationSchema.prefault('30s').describe('How often coalesced reported properties are patched.'),
  })
  .superRefine((c, ctx) => {
    if (c.twin_interval < 1000)
      ctx.addIssue({ code: 'custom', path: ['twin_interval'], message: 'twin_interval must be at least 1s' });
    if (c.sas_ttl < 10_000)
      ctx.addIssue({ code: 'custom', path: ['sas_ttl'], message: 'sas_ttl must be at least 10s' });
  });

/** Validated settings as `create` receives them. */
export type AzureIotConfig = z.output<typeof azureIotConfigSchema>;
