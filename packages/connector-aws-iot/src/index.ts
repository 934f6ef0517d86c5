import { defineConnector, pointJsonBytes, type ConnectorDefinition } from '@bifrost/core';
import { awsIotConfigSchema } from './config.js';
import { AwsIotConnector } from './connector.js';

/**
 * The AWS IoT Core connector plugin (`type: aws-iot`): points published over MQTT 5 with mutual
 * TLS through aws-iot-device-sdk-v2, one message per point or a JSON array per topic, optionally
 * through Basic Ingest; AWS IoT's quotas (128 KB messages, topic size and depth, QoS 0/1,
 * publishes and bytes per second) enforced before the wire; reason codes classified; the latest
 * values reported to the thing's Device Shadow when asked.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const awsIot: ConnectorDefinition<typeof awsIotConfigSchema> = defineConnector({
  type: 'aws-iot',
  configSchema: awsIotConfigSchema,
  // The byte limit is per instance: only `messages: batch` puts a batch in one message (AwsIotConnector.maxBatchBytes).
  capabilities: { ordering: 'none', maxBatch: 5000 },
  pointBytes: pointJsonBytes,
  create: (config, ctx) => new AwsIotConnector(config, ctx),
});

export default awsIot;
export {
  awsIotConfigSchema,
  templateProblem,
  DEFAULT_TOPIC,
  MESSAGE_MODES,
  TOPIC_CONFIG_FIELDS,
  type AwsIotConfig,
  type MessageMode,
} from './config.js';
export { AwsIotConnector, clientConfig, RECONNECT_DELAY_MS } from './connector.js';
export { MessageBuilder, MAX_BATCH_BYTES, type OutgoingMessage, type BatchMessages } from './messages.js';
export { AWS_IOT_LIMITS, SHADOW_LIMITS, basicIngestPrefix, topicProblem } from './limits.js';
export { PublishRateLimiter } from './rate-limiter.js';
export {
  ReasonCode,
  CAPACITY_RETRY_AFTER_MS,
  classifyReasonCode,
  classifyPuback,
  classifyConnectFailure,
  type PubackVerdict,
} from './reason-codes.js';
export { ShadowReporter, deviceShadowName, type ShadowLink, type ShadowStatus } from './shadow.js';
