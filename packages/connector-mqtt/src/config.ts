import { z, secret } from '@bifrost/core';
import { TOPIC_FIELDS } from './topic.js';

/** URL schemes accepted for `endpoint` / `broker`; `tcp`/`tls` are the seed's spellings of `mqtt`/`mqtts`. */
export const BROKER_SCHEMES = ['mqtt', 'tcp', 'mqtts', 'tls', 'ssl', 'ws', 'wss'] as const;

/** Schemes that run over TLS and take the connector's TLS files. */
export const SECURE_SCHEMES: ReadonlySet<string> = new Set(['mqtts', 'tls', 'ssl', 'wss']);

/** Topic template used when neither `topic` nor a channel topic (`data_topic`, ...) is set. */
export const DEFAULT_TOPIC = '{topic_prefix}/{device_id}/{tag_name}';
/** Topic template used when `data_topic`, `event_topic` or `alarm_topic` is set and `topic` is not. */
export const DEFAULT_CHANNEL_TOPIC = '{topic_prefix}/{channel}/{device_id}/{tag_name}';

/** Default window of unacknowledged messages. */
export const DEFAULT_MAX_INFLIGHT = 1000;
/** Default window for QoS 2 over MQTT 3.1.1: Mosquitto's default `max_inflight_messages`. */
export const QOS2_V311_MAX_INFLIGHT = 20;

const brokerUrl = (field: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `${field} (or provider_config.broker) is required, e.g. mqtt://localhost:1883`
          : `${field} must be a broker URL string`,
    })
    .min(1, `${field} must not be empty`)
    .refine(
      (u) => {
        try {
          return (BROKER_SCHEMES as readonly string[]).includes(new URL(u).protocol.slice(0, -1).toLowerCase());
        } catch {
          return false;
        }
      },
      `${field} must be a URL like mqtt://host:1883 (schemes: ${BROKER_SCHEMES.join(', ')})`,
    );

const channelTopic = (what: string, example: string) =>
  z
    .string()
    .min(1)
    .optional()
    .describe(
      `Topic segment for ${what}, put in place of \`{channel}\` (e.g. \`${example}\`). Setting any channel topic switches the default \`topic\` to \`${DEFAULT_CHANNEL_TOPIC}\`.`,
    );

/**
 * The MQTT connector's settings: the connector-level `endpoint` plus `provider_config`, flattened,
 * in snake_case as written in YAML. The seed's `provider_config.broker` is an endpoint alias the
 * host resolves (it wins when both are set).
 */
export const mqttConfigSchema = z
  .strictObject({
    endpoint: brokerUrl('endpoint').describe(
      `Broker URL, e.g. \`mqtt://broker:1883\`, \`mqtts://broker:8883\` (TLS; certificates come from the connector's TLS files) or \`ws://broker:8080/mqtt\`. Schemes: ${BROKER_SCHEMES.join(', ')}.`,
    ),
    client_id: z
      .string()
      .min(1)
      .max(65_535)
      .optional()
      .describe(
        'MQTT client identifier. Default `bifrost-<connector name>-<random>`. Required for a persistent session (`clean_session: false`).',
      ),
    username: z.string().min(1).optional().describe('User name for broker authentication.'),
    password: secret(z.string()).optional().describe('Password for broker authentication.'),
    protocol_version: z
      .union([z.literal(4), z.literal(5)])
      .default(4)
      .describe(
        'MQTT protocol: `4` = 3.1.1 (every broker, including the embedded aedes), `5` = MQTT 5 (adds the `bifrost-id` user property and per-message reason codes).',
      ),
    qos: z
      .union([z.literal(0), z.literal(1), z.literal(2)], { error: 'qos must be 0, 1 or 2' })
      .default(1)
      .describe(
        'Quality of service. `1` (default) and `2`: a write succeeds only after every PUBACK / PUBCOMP. `0`: fire and forget, a point counts as sent once written to the socket (at-most-once; may lose data).',
      ),
    retain: z
      .boolean()
      .default(false)
      .describe('Publish with the retain flag so new subscribers get the last reading of each topic.'),
    clean_session: z
      .boolean()
      .default(true)
      .describe(
        '`true`: start a clean session on every connect. `false`: ask the broker to keep the session (needs a fixed `client_id`).',
      ),
    keepalive_s: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(30)
      .describe('Keep-alive interval in seconds (0 disables it); detects dead links.'),
    connect_timeout_ms: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Time to wait for the CONNACK, milliseconds.'),
    topic_prefix: z.string().default('bifrost').describe('Value of `{topic_prefix}` in topic templates.'),
    topic: z
      .string()
      .min(1)
      .optional()
      .describe(
        `Topic template; placeholders ${TOPIC_FIELDS.map((f) => `\`{${f}}\``).join(', ')}, \`{tags.<key>}\`. Default \`${DEFAULT_TOPIC}\` (\`${DEFAULT_CHANNEL_TOPIC}\` when a channel topic is set).`,
      ),
    data_topic: channelTopic(
      'ordinary readings (any quality but `ALARM` and `EVENT`); default `data` when the template uses `{channel}`',
      'telemetry',
    ),
    event_topic: channelTopic('points with quality `EVENT`; falls back to `data_topic`', 'events'),
    alarm_topic: channelTopic('points with quality `ALARM`; falls back to `data_topic`', 'alarms'),
    payload_format: z
      .enum(['json', 'json-batch'])
      .default('json')
      .describe(
        '`json`: one message per point, the point as a JSON object (`id`, `deviceId`, `tagName`, `value`, `quality`, `timestamp`, ...). `json-batch`: one JSON array per topic per batch (fewer, larger messages).',
      ),
    max_inflight: z
      .number()
      .int()
      .min(1)
      .max(65_000)
      .optional()
      .describe(
        `Most messages awaiting their PUBACK / PUBCOMP at once per connection; lowered to the broker's Receive Maximum under MQTT 5. Default ${DEFAULT_MAX_INFLIGHT}, but ${QOS2_V311_MAX_INFLIGHT} for QoS 2 over MQTT 3.1.1: brokers such as Mosquitto answer PUBREC to QoS 2 messages beyond their in-flight limit and then drop them, and 3.1.1 has no way to announce that limit.`,
      ),
    max_packet_size: z
      .number()
      .int()
      .min(64)
      .optional()
      .describe(
        "Largest PUBLISH packet the broker accepts, bytes. Larger points are dead-lettered instead of being retried forever. Under MQTT 5 the broker's announced Maximum Packet Size applies too.",
      ),
  })
  .superRefine((c, ctx) => {
    if (!c.clean_session && c.client_id === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_id'],
        message: 'client_id is required when clean_session is false (the broker keys the session by it)',
      });
    }
  });

/** Validated settings as `create` receives them. */
export type MqttConfig = z.output<typeof mqttConfigSchema>;

/** The configured window of unacknowledged messages, before the broker's Receive Maximum applies. */
export function maxInflightOf(config: MqttConfig): number {
  if (config.max_inflight !== undefined) return config.max_inflight;
  return config.qos === 2 && config.protocol_version === 4 ? QOS2_V311_MAX_INFLIGHT : DEFAULT_MAX_INFLIGHT;
}

/** The broker URL. Only call on a validated config. */
export function brokerUrlOf(config: MqttConfig): URL {
  return new URL(config.endpoint);
}
