import { durationSchema, z, secret } from '@bifrost/core';

const identifier = (what: string) =>
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, `${what} must be a plain SQL identifier (letters, digits, _; at most 63)`);

/** libpq's `sslmode` values this connector supports. */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/**
 * The TimescaleDB/PostgreSQL connector's settings: `endpoint` (a `postgres://` URL) plus
 * `provider_config`, flattened, in snake_case. Explicit fields win over the URL's parts.
 */
export const timescaleConfigSchema = z
  .strictObject({
    endpoint: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'endpoint must be a postgres:// or postgresql:// URL')
      .optional()
      .describe('Connection URL, e.g. `postgres://bifrost@db.example.com:5432/plant?sslmode=verify-full`.'),
    host: z.string().min(1).optional().describe('Server host (overrides the URL).'),
    port: z.number().int().min(1).max(65535).optional().describe('Server port (overrides the URL; default 5432).'),
    database: z.string().min(1).optional().describe('Database name (overrides the URL).'),
    username: z.string().min(1).optional().describe('User name (overrides the URL).'),
    password: secret(z.string()).optional().describe('Password; overrides the URL.'),
    ssl_mode: z
      .enum(SSL_MODES)
      .optional()
      .describe(
        "`disable`, `require` (encrypt, no verification), `verify-ca` (CA only), `verify-full` (CA and host name). Default: the URL's `sslmode`, else `verify-full` when TLS is enabled for the connector, else `disable`.",
      ),
    schema: identifier('schema')
      .default('public')
      .describe('Schema of the table (created if absent when `create_table` is on).'),
    table: identifier('table').default('bifrost_points').describe('Table the points go to.'),
    value_mode: z
      .enum(['typed', 'jsonb'])
      .default('typed')
      .describe(
        '`typed`: columns value_double, value_text, value_bool, value_json (one set per point). `jsonb`: one `value jsonb` column.',
      ),
    create_table: z
      .boolean()
      .default(true)
      .describe(
        'Create the schema, table and indexes when absent; a hypertable when the timescaledb extension is installed, a plain table otherwise.',
      ),
    chunk_time_interval: z
      .string()
      .regex(/^\d+\s*(second|minute|hour|day|week)s?$/, 'chunk_time_interval must look like "1 day" or "6 hours"')
      .default('1 day')
      .describe('Hypertable chunk interval for a new hypertable.'),
    pool_size: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(4)
      .describe('Connections in the pool (batches written in parallel).'),
    connect_timeout: durationSchema
      .prefault('10s')
      .describe('Time to establish a connection, e.g. `10s` (a number is milliseconds).'),
    statement_timeout: durationSchema
      .prefault('30s')
      .describe(
        'Server-side limit of one statement, e.g. `30s`; a batch insert running longer is cancelled (and retried), so no connection stays stuck behind it. 0 = no limit.',
      ),
    application_name: z.string().default('bifrost').describe('`application_name` shown in pg_stat_activity.'),
  })
  .superRefine((c, ctx) => {
    if (!c.endpoint && !c.host)
      ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'endpoint (a postgres:// URL) or host is required' });
  });

/** Validated settings as `create` receives them. */
export type TimescaleConfig = z.output<typeof timescaleConfigSchema>;
