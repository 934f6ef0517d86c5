import { pointTemplatePlaceholders, z, secret } from '@bifrost/core';

/** AMQP exchange types RabbitMQ ships with. */
export const EXCHANGE_TYPES = ['direct', 'topic', 'fanout', 'headers'] as const;

/**
 * The AMQP connector's settings: the connector-level `endpoint` plus `provider_config`, flattened,
 * in snake_case as written in YAML. Credentials may sit in the URL or in `username` / `password`
 * (those win).
 */
export const amqpConfigSchema = z.strictObject({
  endpoint: z
    .string({ error: (iss) => (iss.input === undefined ? 'endpoint is required' : undefined) })
    .url()
    .refine((u) => /^amqps?:\/\//i.test(u), 'endpoint must start with amqp:// or amqps://')
    .describe(
      "Broker URL `amqp://host:5672/vhost` or `amqps://host:5671/vhost` (TLS; certificates come from the connector's TLS files). User and password may be embedded.",
    ),
  username: z.string().min(1).optional().describe('User name (SASL PLAIN); overrides the one in `endpoint`.'),
  password: secret(z.string()).optional().describe('Password; overrides the one in `endpoint`.'),
  vhost: z.string().optional().describe('Virtual host; overrides the path of `endpoint` (RabbitMQ default `/`).'),
  exchange: z
    .string()
    .max(255)
    .default('bifrost')
    .describe(
      'Exchange to publish to. The empty string is the default exchange, where the routing key names the queue (never declared).',
    ),
  exchange_type: z.enum(EXCHANGE_TYPES).default('topic').describe('Type used when the exchange is declared.'),
  exchange_declare: z
    .boolean()
    .default(true)
    .describe(
      '`true`: declare the exchange (durable) on connect, failing if it exists with another type. `false`: only check that it exists (passive), for brokers where the gateway may not configure.',
    ),
  routing_key: z
    .string()
    .default('{device_id}.{tag_name}')
    .describe(
      `Routing key template; placeholders ${pointTemplatePlaceholders()
        .map((f) => `\`${f}\``)
        .join(', ')} (empty when the point lacks that tag). A point whose key exceeds 255 bytes is dead-lettered.`,
    ),
  persistent: z
    .boolean()
    .default(true)
    .describe('Publish with delivery mode 2 so durable queues keep messages across broker restarts.'),
  mandatory: z
    .boolean()
    .default(true)
    .describe(
      'Ask the broker to return messages no queue is bound for. Returned points are never counted as delivered: when a whole batch is unroutable it stays queued (ConfigError), otherwise the unroutable points are dead-lettered.',
    ),
  heartbeat_s: z
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(30)
    .describe('AMQP heartbeat interval in seconds (0 disables it); detects dead links.'),
  connect_timeout_ms: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Socket timeout while opening the connection, milliseconds.'),
  frame_max: z
    .number()
    .int()
    .min(4096)
    .max(1_048_576)
    .default(131_072)
    .describe('Largest frame proposed to the broker, bytes.'),
});

/** Validated settings as `create` receives them. */
export type AmqpConfig = z.output<typeof amqpConfigSchema>;
