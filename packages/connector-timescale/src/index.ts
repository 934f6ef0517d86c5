import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { timescaleConfigSchema } from './config.js';
import { TimescaleConnector } from './connector.js';

/**
 * The TimescaleDB/PostgreSQL connector plugin (`type: timescale`): batches inserted with
 * `ON CONFLICT (id, time) DO NOTHING`, so redelivered points never duplicate rows.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const timescale: ConnectorDefinition<typeof timescaleConfigSchema> = defineConnector({
  type: 'timescale',
  configSchema: timescaleConfigSchema,
  capabilities: { ordering: 'none', maxBatch: 10_000 },
  create: (config, ctx) => new TimescaleConnector(config, ctx),
});

export default timescale;
export { timescaleConfigSchema, SSL_MODES, type SslMode, type TimescaleConfig } from './config.js';
export { TimescaleConnector } from './connector.js';
export { poolConfig, sslOptions } from './connection.js';
export { classifyPgError, isDataError, sqlState } from './sqlstate.js';
export { insertRowByRow } from './row-by-row.js';
export {
  createTableStatements,
  createHypertableStatement,
  insertStatement,
  insertParameters,
  arrayLiteral,
  qualifiedTable,
  valueColumns,
} from './sql.js';
