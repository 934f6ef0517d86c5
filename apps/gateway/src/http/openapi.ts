import { MAX_TIMESTAMP_MS } from '@bifrost/core/host';
import { LINE_PROTOCOL_PATTERN } from '../ingest/line-protocol-pattern.js';
import { CREATE_DATABASE_PATTERN } from './influx-write.js';

/** Largest dead-letter page served at once. */
export const MAX_DEAD_LETTER_PAGE = 10_000;

/** One REST route, as documented in `/openapi.json`. */
export interface RouteDoc {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  /** Needs the bearer token when one is configured. */
  auth: boolean;
  /** Status codes and what they mean. */
  responses: Record<string, string>;
  body?: 'points' | 'deadLetterFilter' | 'lineProtocol' | 'influxQuery';
  /** Query parameters: a dead-letter filter field by name, or one described here. */
  query?: Array<string | { name: string; description: string; required?: boolean; schema: Record<string, unknown> }>;
}

const ERR = {
  '401': 'Missing or wrong bearer token',
};

const LINE_PROTOCOL_RESPONSES = {
  '204': 'Every line queued durably',
  '400':
    'Bad lines, named by number (`line 3: ...`). Like InfluxDB: the good lines of the body are queued first (`partial write: ...`)',
  '413': 'Body too large (after gzip decompression)',
  '415': 'Content-Encoding other than gzip',
  '503': 'Queue full, storage failing or too many bytes being ingested at once; see Retry-After',
  '401': 'Missing or wrong token',
};

const text = (description: string) => ({ type: 'string', description });

/** Every route the gateway serves. */
export const ROUTES: readonly RouteDoc[] = [
  {
    method: 'GET',
    path: '/health',
    summary: 'Liveness: the process is up',
    auth: false,
    responses: { '200': 'Alive' },
  },
  {
    method: 'GET',
    path: '/ready',
    summary: 'Readiness: the pipeline runs and the queue accepts writes',
    auth: true,
    responses: { '200': 'Ready', '503': 'Starting, stopping or queue storage failing', ...ERR },
  },
  {
    method: 'GET',
    path: '/api/cloud/health',
    summary: 'Health of every connector (status, breaker, last error, response times) and of the queue',
    auth: true,
    responses: { '200': 'Health report', ...ERR },
  },
  {
    method: 'GET',
    path: '/api/cloud/metrics',
    summary:
      'Connector metrics (sent, failed, retries, success rates, response times, bytes sent, queue depth and age, breaker) and device metrics (ingested, last seen)',
    auth: true,
    responses: { '200': 'Metrics snapshot', ...ERR },
  },
  {
    method: 'GET',
    path: '/api/cloud/history',
    summary:
      'The last 15 minutes of connector metrics at 5 s steps, oldest first (sent, failed, rates, queue depth and age, dead letters, breaker)',
    auth: true,
    responses: { '200': 'History samples', ...ERR },
  },
  {
    method: 'POST',
    path: '/api/data',
    summary: 'Ingest points through the routing rules; 200 only once durably queued',
    auth: true,
    body: 'points',
    responses: {
      '200': 'Queued; ids of the points',
      '400': 'Malformed body (issues name the field)',
      '413': 'Body too large',
      '503': 'Queue full (when_full: block), storage failing or too many bytes being ingested at once; see Retry-After',
      ...ERR,
    },
  },
  {
    method: 'POST',
    path: '/api/cloud/connectors/{name}/data',
    summary: 'Ingest points for one connector; 200 only once durably queued',
    auth: true,
    body: 'points',
    responses: {
      '200': 'Queued; ids of the points',
      '400': 'Malformed body (issues name the field)',
      '404': 'Unknown connector',
      '413': 'Body too large',
      '503': 'Queue full (when_full: block), storage failing or too many bytes being ingested at once; see Retry-After',
      ...ERR,
    },
  },
  {
    method: 'POST',
    path: '/write',
    summary:
      'InfluxDB 1.x write API: line protocol (plain or gzip), one point per field; 204 only once durably queued. Token as Bearer, Token, Basic password or `p`',
    auth: true,
    body: 'lineProtocol',
    query: [
      { name: 'db', description: 'Accepted, not used (routing rules pick connectors)', schema: text('database') },
      { name: 'rp', description: 'Accepted, not used', schema: text('retention policy') },
      { name: 'u', description: 'User name, not used', schema: text('user') },
      { name: 'p', description: 'The API token, as InfluxDB 1.x clients send a password', schema: text('token') },
      {
        name: 'precision',
        description: 'Unit of the timestamps; default ns. Finer than ms is truncated to the millisecond',
        schema: { type: 'string', enum: ['n', 'ns', 'u', 'us', 'ms', 's', 'm', 'h'] },
      },
    ],
    responses: LINE_PROTOCOL_RESPONSES,
  },
  {
    method: 'POST',
    path: '/api/v2/write',
    summary:
      'InfluxDB 2.x write API: line protocol (plain or gzip), one point per field; 204 only once durably queued. `Authorization: Token <token>`',
    auth: true,
    body: 'lineProtocol',
    query: [
      { name: 'org', description: 'Accepted, not used', schema: text('organization') },
      { name: 'orgID', description: 'Accepted, not used', schema: text('organization id') },
      { name: 'bucket', description: 'Accepted, not used (routing rules pick connectors)', schema: text('bucket') },
      {
        name: 'precision',
        description: 'Unit of the timestamps; default ns. Finer than ms is truncated to the millisecond',
        schema: { type: 'string', enum: ['ns', 'us', 'ms', 's'] },
      },
    ],
    responses: LINE_PROTOCOL_RESPONSES,
  },
  {
    method: 'GET',
    path: '/ping',
    summary: 'InfluxDB liveness check, as InfluxDB clients call it: 204 with `X-Influxdb-Version`',
    auth: false,
    responses: { '204': 'Up' },
  },
  {
    method: 'POST',
    path: '/query',
    summary:
      'InfluxDB 1.x query API, for clients that create their database before writing (Telegraf `outputs.influxdb`): `CREATE DATABASE` is answered as done; any other statement is refused',
    auth: true,
    body: 'influxQuery',
    query: [
      {
        name: 'q',
        description:
          'The InfluxQL statement. Required here or as `q` of a form body (OpenAPI cannot say "one of the two", so the query string is the documented place)',
        required: true,
        schema: { type: 'string', pattern: CREATE_DATABASE_PATTERN, description: 'CREATE DATABASE <name>' },
      },
    ],
    responses: {
      '200': 'CREATE DATABASE answered (a no-op)',
      '400': 'No `q`, or a statement other than CREATE DATABASE',
      ...ERR,
    },
  },
  {
    method: 'GET',
    path: '/api/cloud/connectors/{name}/config',
    summary: 'Configuration of one connector, secrets redacted',
    auth: true,
    responses: { '200': 'Config', '404': 'Unknown connector', ...ERR },
  },
  {
    method: 'POST',
    path: '/api/cloud/connectors/{name}/breaker/reset',
    summary:
      'Close an open circuit breaker now and let the connector deliver at once (reset: false when it was not open)',
    auth: true,
    responses: { '200': 'Whether it was reset, and the breaker state now', '404': 'Unknown connector', ...ERR },
  },
  {
    method: 'POST',
    path: '/api/cloud/connectors/{name}/test',
    summary:
      'Connection test: a fresh instance connects, runs its health probe and closes, each within the connector timeout; the running connector and its queue are untouched',
    auth: true,
    responses: {
      '200': '{ ok, durationMs, detail?, error?: { kind, code, message } }',
      '404': 'Unknown connector',
      ...ERR,
    },
  },
  {
    method: 'GET',
    path: '/api/cloud/deadletters',
    summary: 'List dead letters (points a remote side refused, or whose TTL ran out)',
    auth: true,
    query: ['connector', 'limit', 'offset'],
    responses: { '200': 'Dead letters', '400': 'Bad filter', '404': 'Unknown connector', ...ERR },
  },
  {
    method: 'POST',
    path: '/api/cloud/deadletters/replay',
    summary: 'Move dead letters back into their connector queue',
    auth: true,
    body: 'deadLetterFilter',
    responses: { '200': 'Count replayed', '400': 'Bad filter', '404': 'Unknown connector', ...ERR },
  },
  {
    method: 'POST',
    path: '/api/cloud/deadletters/purge',
    summary: 'Delete dead letters',
    auth: true,
    body: 'deadLetterFilter',
    responses: { '200': 'Count purged', '400': 'Bad filter', '404': 'Unknown connector', ...ERR },
  },
  {
    method: 'GET',
    path: '/api/cloud/queue/integrity',
    summary:
      'Damage found in the queue file and not acknowledged yet: quarantined chunks (checksum failed), a salvaged, missing or truncated file, with recovered and lost points',
    auth: true,
    responses: { '200': 'Integrity report', ...ERR },
  },
  {
    method: 'POST',
    path: '/api/cloud/queue/acknowledge',
    summary:
      'Acknowledge every integrity incident the queue reports: health is no longer degraded by them (the quarantine table keeps the raw chunks)',
    auth: true,
    responses: { '200': 'Count acknowledged', '503': 'Queue storage failing', ...ERR },
  },
  {
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics (bifrost_cloud_*)',
    auth: true,
    responses: { '200': 'Prometheus text format', ...ERR },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    auth: true,
    responses: { '200': 'OpenAPI 3.1 document', ...ERR },
  },
  {
    method: 'GET',
    path: '/',
    summary: 'Live status page (asks for the token in the browser when one is set)',
    auth: false,
    responses: { '200': 'HTML' },
  },
];

/** Names the server accepts: no control characters (see core's `nameProblem`), 1 to 256 characters. */
const nameSchema = (description: string) => ({
  type: 'string',
  minLength: 1,
  maxLength: 256,
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\ufffe\\uffff]*$',
  description,
});

/**
 * Keys a JSON body may not hold at any depth: fastify's JSON parser (secure-json-parse) refuses the
 * whole body on a `__proto__` key, or a `constructor` object with a `prototype` key.
 */
const NOT_PROTO = { not: { const: '__proto__' } };

/** Any JSON object fastify parses: recursive, without prototype-poisoning keys. */
const JSON_SCHEMAS = {
  JsonObject: {
    type: 'object',
    propertyNames: NOT_PROTO,
    not: { required: ['constructor'], properties: { constructor: { type: 'object', required: ['prototype'] } } },
    additionalProperties: { $ref: '#/components/schemas/JsonValue' },
  },
  JsonValue: {
    oneOf: [
      { type: ['null', 'boolean', 'number', 'string'] },
      { type: 'array', items: { $ref: '#/components/schemas/JsonValue' } },
      { $ref: '#/components/schemas/JsonObject' },
    ],
  },
};

const pointProperties = {
  id: {
    type: 'string',
    minLength: 1,
    maxLength: 128,
    description: 'Stable id, unique within a request; a UUIDv7 is assigned when absent',
  },
  value: {
    oneOf: [
      { type: 'number' },
      { type: 'string', maxLength: 65_536 },
      { type: 'boolean' },
      { $ref: '#/components/schemas/JsonObject' },
    ],
    description: 'An object value nests at most 32 levels',
  },
  quality: { type: 'string', minLength: 1, maxLength: 64, default: 'GOOD' },
  timestamp: {
    oneOf: [
      { type: 'integer', minimum: 0, maximum: MAX_TIMESTAMP_MS, description: 'epoch ms' },
      { type: 'string', format: 'date-time' },
    ],
  },
  unit: { type: 'string', maxLength: 64 },
  tags: { type: 'object', propertyNames: NOT_PROTO, additionalProperties: { type: 'string' } },
  priority: { type: 'integer', minimum: 0, maximum: 9 },
};

/** One point, exactly as strict as the server: camelCase names or their snake_case aliases, nothing else. */
const pointSchema = {
  type: 'object',
  oneOf: [
    {
      required: ['deviceId', 'tagName', 'value'],
      properties: { ...pointProperties, deviceId: nameSchema('Device id'), tagName: nameSchema('Tag name') },
      additionalProperties: false,
    },
    {
      required: ['device_id', 'tag_name', 'value'],
      properties: { ...pointProperties, device_id: nameSchema('Device id'), tag_name: nameSchema('Tag name') },
      additionalProperties: false,
    },
  ],
};

const BODIES = {
  points: {
    oneOf: [
      pointSchema,
      { type: 'array', items: pointSchema },
      {
        type: 'object',
        required: ['points'],
        properties: { points: { type: 'array', items: pointSchema } },
        additionalProperties: false,
      },
    ],
  },
  deadLetterFilter: {
    type: 'object',
    properties: {
      connector: { type: 'string' },
      seqs: { type: 'array', items: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
    },
    additionalProperties: false,
  },
};

const LINE_PROTOCOL_BODY = {
  type: 'string',
  pattern: LINE_PROTOCOL_PATTERN,
  description:
    'InfluxDB line protocol, `measurement[,tag=value...] field=value[,field=value...] [timestamp]` per line; `Content-Encoding: gzip` accepted. deviceId = the `api.line_protocol.device_tag` tag if set and present, else the measurement; tagName = the field key; tags kept (plus `_measurement` when the device came from a tag); i/u integers and floats as numbers, strings, booleans',
};

/** The form body of `POST /query`, as InfluxDB 1.x clients may send the statement. */
const INFLUX_QUERY_FORM = {
  type: 'object',
  properties: { q: text('The InfluxQL statement, when not in the query string') },
};

/** The OpenAPI 3.1 document served at `/openapi.json`, built from {@link ROUTES}. */
export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params: unknown[] = [];
    if (r.path.includes('{name}'))
      params.push({
        name: 'name',
        in: 'path',
        required: true,
        schema: { type: 'string' },
        description: 'Connector instance name',
      });
    for (const q of r.query ?? [])
      params.push(
        typeof q === 'string'
          ? {
              name: q,
              in: 'query',
              required: false,
              schema:
                q === 'connector'
                  ? { type: 'string' }
                  : { type: 'integer', minimum: 0, ...(q === 'limit' ? { maximum: MAX_DEAD_LETTER_PAGE } : {}) },
            }
          : { name: q.name, in: 'query', required: q.required ?? false, description: q.description, schema: q.schema },
      );
    const operations = (paths[r.path] ??= {});
    operations[r.method.toLowerCase()] = {
      summary: r.summary,
      ...(r.auth ? {} : { security: [] }),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body === 'lineProtocol'
        ? { requestBody: { required: false, content: { 'text/plain': { schema: LINE_PROTOCOL_BODY } } } }
        : r.body === 'influxQuery'
          ? {
              requestBody: {
                required: false,
                content: { 'application/x-www-form-urlencoded': { schema: INFLUX_QUERY_FORM } },
              },
            }
          : r.body
            ? {
                requestBody: {
                  required: r.body === 'points',
                  content: { 'application/json': { schema: BODIES[r.body] } },
                },
              }
            : {}),
      responses: Object.fromEntries(Object.entries(r.responses).map(([code, description]) => [code, { description }])),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Bifrost gateway API', version },
    components: { schemas: JSON_SCHEMAS, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
