import { pointTemplatePlaceholders, z, secret } from '@bifrost/core';
import { TOPIC_FIELDS } from './topic.js';

/** Compression codecs; everything but `none` and `gzip` needs its codec package installed beside the connector. */
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;

const brokerAddress = z.string().regex(/^[^\s/,]+:\d{1,5}$/, 'must be host:port');

/**
 * The Kafka connector's settings: the connector-level `endpoint` plus `provider_config`, flattened,
 * in snake_case. TLS is on when the connector has TLS enabled (files arrive as `ctx.tls`).
 */
export const kafkaConfigSchema = z
  .strictObject({
    endpoint: z
      .string({
        error: (issue) =>
          issue.input === undefined
            ? 'endpoint (or provider_config.brokers) is required, e.g. localhost:9092'
            : undefined,
      })
      .min(1)
      .describe(
        'Bootstrap brokers as `host:port`, several separated by commas; a `kafka://`, `tcp://` or `ssl://` prefix is ignored. `provider_config.brokers` (a list) is an alias.',
      ),
    client_id: z.string().min(1).default('bifrost').describe('Kafka client id (shows in broker logs and quotas).'),
    topic: z
      .string()
      .min(1)
      .default('{topic_prefix}telemetry')
      .describe(
        `Topic template; placeholders ${pointTemplatePlaceholders(TOPIC_FIELDS)
          .map((f) => `\`${f}\``)
          .join(
            ', ',
          )} (empty when the point lacks that tag). A point whose topic is not a valid Kafka topic name (letters, digits, \`.\`, \`_\`, \`-\`, at most 249) is dead-lettered.`,
      ),
    topic_prefix: z.string().default('bifrost.').describe('Value of `{topic_prefix}` in `topic`.'),
    compression: z
      .enum(COMPRESSIONS)
      .default('gzip')
      .describe(
        'Record batch compression. `snappy`, `lz4` and `zstd` need the codec package (`kafkajs-snappy`, `kafkajs-lz4`, `@kafkajs/zstd`) installed.',
      ),
    sasl_mechanism: z
      .enum(SASL_MECHANISMS)
      .default('none')
      .describe('SASL mechanism; `plain` should only be used with TLS.'),
    username: z.string().min(1).optional().describe('SASL user name (required with a SASL mechanism).'),
    password: secret(z.string()).optional().describe('SASL password.'),
    max_in_flight_requests: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(5)
      .describe(
        "Produce requests in flight per broker connection. A device's records are never in two at once (the host keeps one batch per device in flight), so their order holds at any value.",
      ),
    allow_auto_topic_creation: z
      .boolean()
      .default(true)
      .describe('Let the broker create missing topics (if its `auto.create.topics.enable` allows).'),
    max_message_bytes: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe(
        "Most (uncompressed) bytes per produce request: a batch is sent as several requests of at most this size, and a single point bigger than this is dead-lettered instead of failing the batch. Keep at or below the broker's `message.max.bytes`.",
      ),
    request_timeout_ms: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe('Produce / metadata request timeout, milliseconds.'),
    connection_timeout_ms: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('TCP + TLS connect timeout, milliseconds.'),
  })
  .superRefine((c, ctx) => {
    for (const b of splitEndpoint(c.endpoint)) {
      if (!brokerAddress.safeParse(b).success)
        ctx.addIssue({ code: 'custom', path: ['endpoint'], message: `"${b}" must be host:port` });
    }
    if (c.sasl_mechanism !== 'none') {
      if (!c.username)
        ctx.addIssue({
          code: 'custom',
          path: ['username'],
          message: `username is required with sasl_mechanism ${c.sasl_mechanism}`,
        });
      if (c.password === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['password'],
          message: `password is required with sasl_mechanism ${c.sasl_mechanism}`,
        });
    }
  });

/** Validated settings as `create` receives them. */
export type KafkaConfig = z.output<typeof kafkaConfigSchema>;

function splitEndpoint(endpoint: string): string[] {
  return endpoint
    .split(',')
    .map((b) => b.trim().replace(/^[a-z]+:\/\//i, ''))
    .filter(Boolean);
}

/** Bootstrap broker list: the comma-separated `endpoint`. */
export function bootstrapBrokers(c: KafkaConfig): string[] {
  return splitEndpoint(c.endpoint);
}
