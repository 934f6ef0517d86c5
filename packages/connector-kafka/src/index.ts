import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { kafkaConfigSchema } from './config.js';
import { KafkaConnector, pointRecordBytes } from './connector.js';

/**
 * The Apache Kafka connector plugin (`type: kafka`): a kafkajs producer with `acks: all` and no
 * client retries (the host's own), key = device id (one partition and order per device), header `bifrost-id` = point id.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const kafka: ConnectorDefinition<typeof kafkaConfigSchema> = defineConnector({
  type: 'kafka',
  configSchema: kafkaConfigSchema,
  capabilities: { ordering: 'per-device', maxBatch: 10_000 },
  endpointAliases: ['brokers'],
  // Each instance's byte limit is its `max_message_bytes` (KafkaConnector.maxBatchBytes).
  pointBytes: pointRecordBytes,
  create: (config, ctx) => new KafkaConnector(config, ctx),
});

export default kafka;
export {
  kafkaConfigSchema,
  bootstrapBrokers,
  COMPRESSIONS,
  SASL_MECHANISMS,
  type KafkaConfig,
  type Compression,
} from './config.js';
export { KafkaConnector, toRecord, clientConfig, recordBytes, pointRecordBytes, ID_HEADER } from './connector.js';
export { classifyKafkaError } from './kafka-errors.js';
export { compileTopic, topicNameProblem, TOPIC_FIELDS } from './topic.js';
export { ensureCodec, compressionType } from './codecs.js';
export { kafkaLogCreator } from './log.js';
