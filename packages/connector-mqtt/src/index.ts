import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { mqttConfigSchema } from './config.js';
import { MqttConnector } from './connector.js';

/**
 * The MQTT connector plugin (`type: mqtt`): MQTT 3.1.1 and 5 through mqtt.js, QoS 0/1/2, TLS and
 * mTLS from the host's TLS files. One JSON message per point (or one array per topic and batch),
 * topic from a template, the point id in the payload and, under MQTT 5, in the `bifrost-id` user
 * property. A write succeeds only when the broker acknowledged every message.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const mqtt: ConnectorDefinition<typeof mqttConfigSchema> = defineConnector({
  type: 'mqtt',
  configSchema: mqttConfigSchema,
  capabilities: { ordering: 'none', maxBatch: 5000 },
  endpointAliases: ['broker'],
  create: (config, ctx) => new MqttConnector(config, ctx),
});

export default mqtt;
export {
  mqttConfigSchema,
  brokerUrlOf,
  BROKER_SCHEMES,
  DEFAULT_TOPIC,
  DEFAULT_CHANNEL_TOPIC,
  DEFAULT_MAX_INFLIGHT,
  QOS2_V311_MAX_INFLIGHT,
  maxInflightOf,
  type MqttConfig,
} from './config.js';
export { MqttConnector, clientOptions, defaultClientId, PERSISTENT_SESSION_EXPIRY_S } from './connector.js';
export { TopicResolver, TOPIC_FIELDS, type ChannelTopics, type TopicResult } from './topic.js';
export { buildMessages, ID_PROPERTY, type MessageFormat, type BatchMessages } from './messages.js';
export {
  classifyConnack,
  classifyPublishReason,
  classifyConnectError,
  ReasonCode,
  type PublishVerdict,
} from './mqtt-errors.js';
export { PublishWindow, type OutgoingMessage, type PublishOutcome } from './publish-window.js';
