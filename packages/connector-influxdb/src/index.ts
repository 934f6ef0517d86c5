import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { influxConfigSchema } from './config.js';
import { InfluxConnector } from './connector.js';

/**
 * The InfluxDB connector plugin (`type: influxdb`): line protocol over the 1.x `/write` or the 2.x
 * `/api/v2/write` API. Redelivered points overwrite themselves (same series and timestamp).
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const influxdb: ConnectorDefinition<typeof influxConfigSchema> = defineConnector({
  type: 'influxdb',
  configSchema: influxConfigSchema,
  // InfluxDB 1.x refuses request bodies over its `[http] max-body-size` (default 25,000,000 bytes)
  // with 413, Timestream for InfluxDB over `max-http-request-size` (default 10 MiB). Batches are
  // measured as JSON (pointBytes default), not as line protocol, hence the margin under both.
  capabilities: { ordering: 'none', maxBatch: 5000, maxBatchBytes: 8 * 1024 * 1024 },
  endpointAliases: ['url'],
  create: (config, ctx) => new InfluxConnector(config, ctx),
});

export default influxdb;
export { influxConfigSchema, baseUrl, PRECISIONS, type InfluxConfig, type Precision } from './config.js';
export { InfluxConnector, writePath } from './connector.js';
export { toLine, formatTimestamp, ID_FIELD, UnwritablePointError, type LineOptions } from './line-protocol.js';
export { classifyWriteFailure, namedLines, serverMessage, type WriteFailure } from './http-errors.js';
export { deliverLines, deliverRequest, type IdentifiedLine, type LineRequest, type PostBody } from './deliver.js';
