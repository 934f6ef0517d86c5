import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { httpConfigSchema } from './config.js';
import { HttpConnector } from './connector.js';

/**
 * The HTTP connector plugin (`type: http`): batches POSTed (or PUT) to an endpoint as a JSON array,
 * NDJSON or one request per point, over a keep-alive undici pool (HTTP/2 where offered), with an
 * idempotency key per request and the point ids in the body so a receiver can deduplicate.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const http: ConnectorDefinition<typeof httpConfigSchema> = defineConnector({
  type: 'http',
  configSchema: httpConfigSchema,
  // No byte limit for the host to measure each point against: a body over `max_batch_bytes` is cut
  // inside the write, so only batches that reach it are measured point by point. As many batches in
  // flight by default as the pool opens connections by default.
  capabilities: { ordering: 'none', maxBatch: 5000, defaultMaxInFlight: 8 },
  endpointAliases: ['url'],
  create: (config, ctx) => new HttpConnector(config, ctx),
});

export default http;
export { httpConfigSchema, BODY_FORMATS, type BodyFormat, type HttpConfig } from './config.js';
export {
  HttpConnector,
  cutByBytes,
  splitByBytes,
  type HttpConnectorOptions,
  type PlannedRequest,
} from './connector.js';
export {
  atPath,
  bodyExcerpt,
  classifyResponse,
  namedRejections,
  parseRetryAfter,
  REASON_CHARS,
  type NamedRejection,
  type ResponseClass,
} from './responses.js';
export { contentType, hmacSignature, idempotencyKey, renderBody } from './wire.js';
