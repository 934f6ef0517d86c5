import { defineConnector } from '@bifrost/core';
import { influxConfigSchema } from './config.js';
import { InfluxConnector } from './connector.js';

/**
 * The InfluxDB connector plugin (`type: influxdb`): line protocol over the 1.x `/write` or the 2.x
 * `/api/v2/write` API. Redelivered points overwrite themselves (same series and timestamp).
 */
const influxdb = defineConnector({
  type: 'influxdb',
  configSchema: influxConfigSchema,
  capabilities: { ordering: 'none', maxBatch: 5000 },
  create: (config, ctx) => new InfluxConnector(config, ctx),
});

export default influxdb;
export { influxConfigSchema, baseUrl, PRECISIONS, type InfluxConfig, type Precision } from './config.js';
export { InfluxConnector, writePath } from './connector.js';
export { toLine, formatTimestamp, ID_FIELD, UnwritablePointError, type LineOptions } from './line-protocol.js';
export { classifyWriteFailure, namedLines, serverMessage, type WriteFailure } from './http-errors.js';
export {
  deliverLines,
  deliverRequests,
  toRequests,
  type IdentifiedLine,
  type LineRequest,
  type PostBody,
} from './deliver.js';
