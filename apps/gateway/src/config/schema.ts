import { durationSchema as duration, z, secret } from '@bifrost/core';

/** Levels accepted by `gateway.log_level` (pino levels). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const positiveInt = z.number().int().positive();
const port = z.number().int().min(0).max(65_535);

/** Queue lane settings, gateway-wide (`gateway.cloud.queue`) or per connector (`connectors.<name>.queue`). */
export const laneSchema = z.strictObject({
  max_points: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe(
      'Most points queued for a connector; 0 = unlimited. Default 1,000,000 (or `buffer.max_size` / `buffer_size`).',
    ),
  max_bytes: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Most payload bytes queued for a connector; 0 = unlimited.'),
  when_full: z
    .enum(['block', 'drop_oldest', 'drop_newest'])
    .optional()
    .describe(
      '`block` (default): back-pressure, sources wait and REST answers 503 + Retry-After, nothing is lost. `drop_oldest` / `drop_newest`: keep going and count the dropped points.',
    ),
  ttl: duration
    .optional()
    .describe(
      'Points queued longer than this move to the dead-letter table (code BIFROST_ERR_TTL_EXPIRED); unset = never.',
    ),
  order: z
    .enum(['oldest_first', 'newest_first'])
    .optional()
    .describe('Which end of each priority lane is delivered first.'),
});

/** Retry policy (exponential backoff with full jitter). */
export const retrySchema = z.strictObject({
  initial: duration.optional().describe('First retry delay (jittered). Default 1s, or `retry_delay`.'),
  multiplier: z.number().min(1).optional().describe('Factor applied to the delay after every failure. Default 2.'),
  max: duration.optional().describe('Longest delay between retries. Default 60s.'),
  max_elapsed: duration
    .optional()
    .describe(
      'How long one batch is retried before it goes back to the queue for the next cycle (it is never dropped); 0 = forever. Default 5m.',
    ),
});

/** Circuit breaker policy. */
export const breakerSchema = z.strictObject({
  failure_threshold: positiveInt
    .optional()
    .describe(
      'Consecutive failed writes that open the breaker (delivery pauses, data stays queued). Default 5, or `retry_count`.',
    ),
  reset: duration.optional().describe('Time the breaker stays open before a trial write. Default 30s.'),
});

/** Poison isolation: finding a point the platform refuses by failing the connection after it is sent. */
export const poisonSchema = z.strictObject({
  isolate: z
    .boolean()
    .optional()
    .describe(
      'Bisect a batch whose write fails as transient (its parts written alone) to find a point that makes writes fail while others succeed, and dead-letter it (code `BIFROST_ERR_SUSPECTED_POISON`). Default true.',
    ),
  strikes: positiveInt
    .optional()
    .describe(
      'Failed writes containing a point, each after another write succeeded (failures during an outage never count), before it is a suspect; a suspect that then fails alone 5 times with no other failure between is dead-lettered. Default 2.',
    ),
});

/** One connector instance: host-level fields (handled by the gateway) plus the plugin's `provider_config`. */
export const connectorEntrySchema = z.strictObject({
  name: z.string().optional().describe('Display name (the map key is the instance name used in routes and metrics).'),
  type: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/, 'type must be a lowercase plugin type like "mqtt" or "aws-iot"')
    .describe(
      'Plugin type: `mqtt` loads `@bifrost/connector-mqtt`, `bifrost-connector-mqtt` or `@scope/bifrost-connector-mqtt`.',
    ),
  plugin: z
    .string()
    .min(1)
    .optional()
    .describe('Explicit plugin package name or path (relative to the config file); overrides the lookup by `type`.'),
  enabled: z.boolean().default(true).describe('`false`: skipped entirely (its plugin need not be installed).'),
  endpoint: z.string().optional().describe('Endpoint URL; passed to the plugin together with `provider_config`.'),
  timeout: duration
    .optional()
    .describe('A write not acknowledged within this time counts as failed and is retried. Default 30s.'),
  retry_count: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe(
      'Consecutive failed writes before the circuit breaker opens (the data is never dropped; delivery pauses and resumes). Same as `breaker.failure_threshold`.',
    ),
  retry_delay: duration.optional().describe('First retry delay. Same as `retry.initial`.'),
  tls_enabled: z
    .boolean()
    .default(false)
    .describe('Load `cert_file`, `key_file`, `ca_file` and hand them to the plugin.'),
  cert_file: z.string().optional().describe('Client certificate (PEM) for mutual TLS.'),
  key_file: z.string().optional().describe('Client private key (PEM).'),
  ca_file: z.string().optional().describe('CA bundle (PEM) to verify the server; system CAs when unset.'),
  key_passphrase: secret(z.string()).optional().describe('Passphrase of `key_file`.'),
  servername: z.string().optional().describe('TLS server name (SNI) when it differs from the endpoint host.'),
  insecure_skip_verify: z.boolean().default(false).describe('Do not verify the server certificate (testing only).'),
  buffer_size: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Most points queued for this connector. Same as `queue.max_points`.'),
  batch_size: positiveInt
    .optional()
    .describe("Points per write. Default `gateway.cloud.batch_size` (1000, capped at the connector's largest batch)."),
  flush_interval: duration
    .optional()
    .describe('Longest wait to fill a batch. Default `gateway.cloud.batch_timeout` (1s).'),
  max_in_flight: positiveInt
    .optional()
    .describe(
      "Batches in flight at once. Connectors that keep per-device order (Kafka) split devices over this many streams, one batch in flight each. Default 2, or the connector's own (HTTP: 8).",
    ),
  disk_persistent: z
    .boolean()
    .optional()
    .describe(
      'Accepted for compatibility. Durability is gateway-wide: points are on disk whenever `buffer.persistent_path` / `queue.path` is set.',
    ),
  queue: laneSchema.optional().describe('Queue limits for this connector; gateway-wide `cloud.queue` otherwise.'),
  retry: retrySchema.optional().describe('Retry policy of this connector.'),
  breaker: breakerSchema.optional().describe('Circuit breaker of this connector.'),
  poison: poisonSchema.optional().describe('Poison isolation of this connector.'),
  provider_config: z
    .record(z.string(), z.unknown())
    .default({})
    .describe("Plugin settings, validated by the plugin's own schema (see its README)."),
});

/** A routing rule: all matching rules fan out; `priority` sets the queue lane (0..9, 9 first). */
export const routingRuleSchema = z.strictObject({
  name: z.string().min(1).describe('Rule name (for logs).'),
  condition: z
    .string()
    .min(1)
    .describe(
      'e.g. `tag_name=temperature`, `quality=ALARM`, `device_id!=PLC9`, `tag_name=temp*`, combined with `and` / `or`.',
    ),
  connectors: z.array(z.string().min(1)).min(1).describe('Connector instance names the matching points go to.'),
  priority: z.number().int().min(0).max(9).default(0).describe('Queue lane 0..9 (9 delivered first).'),
});

/** One source instance (`gateway.sources.<name>`): `type`, `enabled`, `plugin`, then the plugin's own settings. */
export const sourceEntrySchema = z
  .object({
    type: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/, 'type must be a lowercase plugin type like "simulator"')
      .describe('Source plugin type: `simulator` loads `@bifrost/source-simulator`.'),
    plugin: z.string().min(1).optional().describe('Explicit plugin package name or path.'),
    enabled: z.boolean().default(true).describe('`false`: not started.'),
    priority: z
      .number()
      .int()
      .min(0)
      .max(9)
      .optional()
      .describe(
        "Queue lane 0..9 (9 first) of this source's points that carry no priority of their own; routing rules may raise it.",
      ),
  })
  .loose();

export const bufferSchema = z.strictObject({
  max_size: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Default most points queued per connector. Same as `queue.max_points`.'),
  flush_interval: duration.optional().describe('Accepted for compatibility; the queue commits per `queue.sync`.'),
  persistent_path: z
    .string()
    .optional()
    .describe('Directory of the durable queue (SQLite file `queue.db` inside). Same as `queue.path`.'),
});

/** Gateway-wide queue settings plus default lane settings. */
export const queueSchema = laneSchema
  .extend({
    path: z
      .string()
      .optional()
      .describe(
        'Directory of the SQLite queue file (relative to the config file). Unset with no `buffer.persistent_path`: memory only (lost on restart).',
      ),
    memory_only: z
      .boolean()
      .default(false)
      .describe('Keep the queue in memory only: faster, but everything queued is lost on a crash or restart.'),
    sync: z
      .enum(['always', 'batch', 'interval'])
      .default('batch')
      .describe(
        '`always`: fsync every commit (survives power loss, slowest). `batch` (default): group commit, survives a process crash or kill -9; a power cut may lose the last few hundred ms. `interval`: fastest; an OS crash may lose up to `sync_interval`.',
      ),
    sync_interval: duration.optional().describe('Checkpoint interval for `sync: interval`. Default 1s.'),
    compression: z.boolean().default(false).describe('Compress stored payloads (large backlogs).'),
    memory_cache_bytes: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Stored bytes of recently queued points kept parsed in memory while a backlog waits ahead of them, so they are delivered without reading them back (about 2-3x this in heap). Default 8388608 (8 MiB); 0 = off.',
      ),
  })
  .strict();

export const apiSchema = z.strictObject({
  host: z
    .string()
    .default('127.0.0.1')
    .describe('Address the REST API listens on. `0.0.0.0` exposes it to the network: set a `token` then.'),
  port: port.optional().describe('REST API port. Default `gateway.port` (8080); 0 picks a free port.'),
  token: secret(z.string().min(1))
    .optional()
    .describe('Bearer token required on every route but `/health`. Also `token_file`.'),
  body_limit: positiveInt.default(1_048_576).describe('Largest request body in bytes (413 above).'),
  max_ingest_bytes: positiveInt
    .default(16_777_216)
    .describe(
      'Bytes of data-POST bodies received, parsed and queued at once; a request beyond it gets 503 with `Retry-After` instead of growing the heap. One request is always let in alone.',
    ),
  line_protocol: z
    .strictObject({
      device_tag: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Tag whose value becomes the deviceId (e.g. `host` for Telegraf); unset or absent on a line: the measurement. The measurement is then kept as tag `_measurement`.',
        ),
    })
    .prefault({})
    .describe(
      'How `POST /write` and `/api/v2/write` (InfluxDB line protocol) map lines to points: one point per field, tagName = the field key, tags kept.',
    ),
  tls: z
    .strictObject({
      cert_file: z.string().describe('Server certificate (PEM).'),
      key_file: z.string().describe('Server private key (PEM).'),
      ca_file: z.string().optional().describe('CA for client certificates (optional).'),
    })
    .optional()
    .describe('Serve HTTPS.'),
});

export const embeddedBrokerSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Start an in-process MQTT broker (aedes) for demos and local testing.'),
  host: z.string().default('127.0.0.1').describe('Address it listens on.'),
  port: port
    .default(1883)
    .describe('Port it listens on; 0 picks a free port (connectors with endpoint `embedded` follow it).'),
});

export const cloudSchema = z.strictObject({
  default_connector: z
    .string()
    .optional()
    .describe(
      'Connector for points no routing rule matches. Unset: such points go to every connector when there are no rules, otherwise they are counted as unrouted.',
    ),
  batch_size: positiveInt.optional().describe("Default points per write (1000; a connector's largest batch caps it)."),
  batch_timeout: duration.optional().describe('Default longest wait to fill a batch (1s).'),
  health_check_interval: duration.optional().describe('How often connectors are probed. Default 30s.'),
  buffer: bufferSchema.optional().describe("The seed's buffer settings (aliases of `queue` settings)."),
  queue: queueSchema.prefault({}).describe('The durable queue and default lane settings of every connector.'),
  retry: retrySchema.optional().describe('Default retry policy.'),
  breaker: breakerSchema.optional().describe('Default circuit breaker policy.'),
  poison: poisonSchema.optional().describe('Default poison isolation.'),
  connectors: z.record(z.string(), connectorEntrySchema).default({}).describe('Connector instances by name.'),
  routing_rules: z
    .array(routingRuleSchema)
    .default([])
    .describe('Routing rules; every matching rule fans out. No rules: every point goes to every connector.'),
});

export const gatewaySchema = z.strictObject({
  port: port.default(8080).describe('REST API port.'),
  log_level: z.enum(LOG_LEVELS).default('info').describe('Log level.'),
  shutdown_timeout: duration
    .prefault('10s')
    .describe('On SIGINT/SIGTERM, how long in-flight batches may take to finish (the rest stays queued).'),
  throughput_log_interval: duration.prefault('10s').describe('Interval of the throughput log line; 0 disables it.'),
  api: apiSchema.prefault({}).describe('REST API: address, port, bearer token, TLS, body limit.'),
  embedded_broker: embeddedBrokerSchema.prefault({}).describe('In-process MQTT broker for the embedded default.'),
  sources: z
    .record(z.string(), sourceEntrySchema)
    .default({})
    .describe(
      "Sources by instance name: `type`, `enabled`, `plugin`, then the plugin's own settings (see its README).",
    ),
  cloud: cloudSchema.prefault({}).describe('Delivery: connectors, routing, queue, retry and breaker defaults.'),
});

/** The whole config file. */
export const configFileSchema = z.strictObject({ gateway: gatewaySchema });

export type GatewayConfig = z.output<typeof gatewaySchema>;
export type ConnectorEntry = z.output<typeof connectorEntrySchema>;
export type SourceEntry = z.output<typeof sourceEntrySchema>;
export type RoutingRule = z.output<typeof routingRuleSchema>;
