import { durationSchema, secret, z } from '@bifrost/core';

/** How a batch is put in request bodies. */
export const BODY_FORMATS = ['json', 'ndjson', 'point'] as const;
export type BodyFormat = (typeof BODY_FORMATS)[number];

/**
 * The HTTP connector's settings: the connector-level `endpoint` (alias `url`) plus `provider_config`,
 * flattened, in snake_case. Secrets are marked with `secret()`; the gateway fills them from `${ENV}` or
 * `*_file` paths and redacts them.
 */
export const httpConfigSchema = z
  .strictObject({
    endpoint: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'endpoint must be an http:// or https:// URL')
      .describe(
        'Full URL the batches are sent to, e.g. `https://ingest.example.com/v1/points` (the connector-level `endpoint`, alias `url`). `https://` uses `ctx.tls` (the `ca_file`, `cert_file`, `key_file` of the connector) when set.',
      ),
    method: z.enum(['POST', 'PUT']).default('POST').describe('HTTP method of every request.'),
    body: z
      .enum(BODY_FORMATS)
      .default('json')
      .describe(
        '`json`: one request per batch, a JSON array of points. `ndjson`: one request per batch, one JSON point per line (`application/x-ndjson`). `point`: one request per point, the point as a JSON object (requests of a batch run in parallel, at most `connections` at a time). A point is `{id, deviceId, tagName, value, quality, timestamp, unit?, tags?}`; `id` is stable across redeliveries.',
      ),
    gzip: z
      .boolean()
      .default(false)
      .describe('Gzip request bodies of at least `gzip_min_bytes` bytes (`content-encoding: gzip`).'),
    gzip_min_bytes: z
      .number()
      .int()
      .nonnegative()
      .default(1024)
      .describe('Smallest body that is gzipped when `gzip` is on.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        'Extra request headers. Values may hold point templates (`{device_id}`, `{tag_name}`, `{quality}`, `{tags.<key>}`); with `json`/`ndjson` a batch whose points render different header values is sent as one request per distinct set of values.',
      ),
    bearer_token: secret(z.string().min(1)).optional().describe('Sends `authorization: Bearer <token>`.'),
    username: z.string().optional().describe('HTTP basic auth user name (with `password`).'),
    password: secret(z.string()).optional().describe('HTTP basic auth password.'),
    hmac_secret: secret(z.string().min(1))
      .optional()
      .describe('Signs every request: `hmac_header` carries `sha256=<hex HMAC-SHA256 of the body before gzip>`.'),
    hmac_header: z
      .string()
      .min(1)
      .default('x-bifrost-signature')
      .describe('Header that carries the HMAC signature when `hmac_secret` is set.'),
    idempotency_header: z
      .string()
      .default('idempotency-key')
      .describe(
        "Header carrying a key per request: the SHA-256 of the request's sorted point ids, the same on every retry of the same points, so the receiver can drop a redelivered request. Empty: not sent.",
      ),
    partial_response: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Dot path in a JSON response body (2xx or 4xx) to the points the server rejected, e.g. `errors` or `result.rejected`: an array of indexes into the request, point ids, or objects with `index` or `id` and `reason`/`error`/`message`. Those points are dead-lettered with the reason; the others count as delivered on a 2xx answer and are retried on a 4xx one.',
      ),
    http2: z
      .boolean()
      .default(true)
      .describe('Use HTTP/2 when an `https://` server offers it (ALPN); HTTP/1.1 otherwise.'),
    connections: z
      .number()
      .int()
      .positive()
      .max(256)
      .default(8)
      .describe('Most keep-alive connections to the origin (HTTP/1.1), and most requests of one write in flight.'),
    max_batch_bytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024)
      .describe(
        'Largest request body before gzip; a batch whose body is larger goes as several requests that fit (a point larger alone goes alone). A server answering 413 gets the request split in halves, down to one point (dead-lettered if still refused).',
      ),
    connect_timeout: durationSchema
      .prefault('10s')
      .describe('TCP and TLS connect timeout, e.g. `10s` (the write timeout is the host’s `timeout`).'),
  })
  .superRefine((c, ctx) => {
    if ((c.username === undefined) !== (c.password === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [c.username === undefined ? 'username' : 'password'],
        message: 'username and password go together',
      });
    if (c.username !== undefined && c.bearer_token !== undefined)
      ctx.addIssue({ code: 'custom', path: ['bearer_token'], message: 'use either bearer_token or username/password' });
  });

/** Validated settings as `create` receives them. */
export type HttpConfig = z.output<typeof httpConfigSchema>;
