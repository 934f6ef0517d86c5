import { durationSchema, z, secret } from '@bifrost/core';

/** Timestamp precision of the written lines; points carry epoch milliseconds. */
export const PRECISIONS = ['ns', 'us', 'ms', 's'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * The InfluxDB connector's settings: `endpoint` plus the seed's `provider_config`, flattened, in
 * snake_case. Seed 001 (`version: "1.x"`, `url`, `database`, `username`, `password`, `precision`,
 * `retention_policy`, `measurement`, `batch_size`) is valid as written.
 */
export const influxConfigSchema = z
  .strictObject({
    endpoint: z
      .url({
        error: (issue) =>
          issue.input === undefined
            ? 'endpoint (or provider_config.url) is required, e.g. http://localhost:8086'
            : 'endpoint must be a URL like http://localhost:8086',
      })
      .describe(
        "Base URL of the InfluxDB HTTP API, e.g. `http://localhost:8086` (the connector-level `endpoint`; the seed's `provider_config.url` is an alias).",
      ),
    version: z
      .enum(['1.x', '2.x'])
      .default('1.x')
      .describe(
        '`1.x`: the `/write` API (database, retention_policy, username/password). `2.x`: the `/api/v2/write` API (organization, bucket, token); InfluxDB 1.8+ serves it too, with bucket `db/rp` and token `user:password`.',
      ),
    database: z.string().min(1).optional().describe('1.x: database to write to (required for version 1.x).'),
    retention_policy: z.string().min(1).optional().describe('1.x: retention policy; the database default when absent.'),
    username: z.string().optional().describe('1.x: user name (HTTP basic auth).'),
    password: secret(z.string()).optional().describe('1.x: password.'),
    organization: z
      .string()
      .min(1)
      .optional()
      .describe('2.x: organization name or id (required for version 2.x, alias `org`).'),
    org: z.string().min(1).optional().describe('2.x: alias of `organization`.'),
    bucket: z.string().min(1).optional().describe('2.x: bucket to write to (required for version 2.x).'),
    token: secret(z.string()).optional().describe('2.x: API token.'),
    precision: z
      .enum(PRECISIONS)
      .default('ns')
      .describe(
        'Timestamp precision written. With `s`, points of one series within the same second overwrite each other.',
      ),
    measurement: z
      .string()
      .min(1)
      .refine(
        (m) => !m.startsWith('#'),
        "measurement must not start with '#' (InfluxDB would read the lines as comments)",
      )
      .default('industrial_data')
      .describe('Measurement name (the default when `measurement_from` finds none).'),
    measurement_from: z
      .enum(['config', 'tag_name', 'device_id', 'point_tag'])
      .default('config')
      .describe(
        "Where each point's measurement comes from: `config` (`measurement`), the point's `tag_name` or `device_id`, or `point_tag` (the point tag named by `measurement_tag`, which is then not written as a tag).",
      ),
    measurement_tag: z
      .string()
      .min(1)
      .default('measurement')
      .describe('Point tag holding the measurement when `measurement_from: point_tag`.'),
    field_naming: z
      .enum(['by_type', 'single'])
      .default('by_type')
      .describe(
        '`by_type`: numbers go to `value`, strings to `value_str`, booleans to `value_bool`, so a tag whose type changes never causes a field type conflict. `single`: every type goes to `value`.',
      ),
    integer_tags: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Tag names whose numeric values are written as integers (`42i`); a non-integer value of such a tag is rejected as poison. Other numbers are floats.',
      ),
    include_id: z
      .boolean()
      .default(true)
      .describe(
        'Also write the point id as the string field `point_id` (traceability; series+timestamp is what deduplicates).',
      ),
    gzip: z.boolean().default(true).describe('Gzip request bodies larger than 1 KiB.'),
    batch_size: z
      .number()
      .int()
      .positive()
      .max(100_000)
      .default(5000)
      .describe('Most lines per HTTP request; a larger batch from the host is sent as several requests in parallel.'),
    request_timeout: durationSchema
      .prefault('30s')
      .describe('Socket timeout of one HTTP request, e.g. `30s` (a number is milliseconds).'),
  })
  .superRefine((c, ctx) => {
    if (c.version === '1.x' && !c.database)
      ctx.addIssue({ code: 'custom', path: ['database'], message: 'database is required for version 1.x' });
    if (c.version === '2.x') {
      if (!c.organization && !c.org)
        ctx.addIssue({
          code: 'custom',
          path: ['organization'],
          message: 'organization (or org) is required for version 2.x',
        });
      if (!c.bucket) ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'bucket is required for version 2.x' });
    }
    if ((c.username === undefined) !== (c.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.username === undefined ? 'username' : 'password'],
        message: 'username and password go together',
      });
    }
  });

/** Validated settings as `create` receives them. */
export type InfluxConfig = z.output<typeof influxConfigSchema>;

/** The base URL, without trailing slashes. */
export function baseUrl(c: InfluxConfig): string {
  return c.endpoint.replace(/\/+$/, '');
}
