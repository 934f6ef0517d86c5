import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { amqpConfigSchema } from './config.js';
import { AmqpConnector } from './connector.js';

/**
 * The AMQP 0-9-1 connector plugin (`type: amqp`, RabbitMQ): one persistent JSON message per point
 * on a publisher-confirm channel, `message_id` = point id. A write succeeds only when the broker
 * confirmed every message and returned none as unroutable.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const amqp: ConnectorDefinition<typeof amqpConfigSchema> = defineConnector({
  type: 'amqp',
  configSchema: amqpConfigSchema,
  capabilities: { ordering: 'none', maxBatch: 5000 },
  create: (config, ctx) => new AmqpConnector(config, ctx),
});

export default amqp;
export { amqpConfigSchema, EXCHANGE_TYPES, type AmqpConfig } from './config.js';
export { AmqpConnector, connectOptions } from './connector.js';
export { classifyAmqpError } from './amqp-errors.js';
export { compileRoutingKey, routingKeyProblem, MAX_SHORTSTR_BYTES } from './routing-key.js';
export { toMessage, CONTENT_TYPE } from './message.js';
