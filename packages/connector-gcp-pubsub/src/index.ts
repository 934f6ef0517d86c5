import { defineConnector, type ConnectorDefinition } from '@bifrost/core';
import { gcpPubSubConfigSchema } from './config.js';
import { GcpPubSubConnector } from './connector.js';
import { PUBSUB_LIMITS, wirePointBytes } from './limits.js';

/**
 * The Google Cloud Pub/Sub connector plugin (`type: gcp-pubsub`), the way into Google Cloud since
 * Cloud IoT Core was retired (2023-08-16): points published as messages (one per point, or a JSON
 * array per batch) with attributes, the device id as ordering key when asked, Pub/Sub's limits
 * enforced before the wire and gRPC status codes classified. `@google-cloud/pubsub` is loaded only
 * when a connector of this type connects.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const gcpPubSub: ConnectorDefinition<typeof gcpPubSubConfigSchema> = defineConnector({
  type: 'gcp-pubsub',
  configSchema: gcpPubSubConfigSchema,
  // per-device: the host keeps one batch per device stream in flight, which `ordering: per-device`
  // needs (ordering keys order what one publisher sends); an instance with `ordering: none` says
  // so (GcpPubSubConnector.ordering) and gets whole batches in flight instead.
  // The byte cut is per instance (GcpPubSubConnector.maxBatchBytes): only `messages: batch` puts a
  // batch in one message; in `point` mode the client splits its own requests at 9 MiB.
  capabilities: { ordering: 'per-device', maxBatch: PUBSUB_LIMITS.messagesPerRequest },
  pointBytes: wirePointBytes,
  create: (config, ctx) => new GcpPubSubConnector(config, ctx),
});

export default gcpPubSub;
export {
  gcpPubSubConfigSchema,
  BUILTIN_ATTRIBUTES,
  MESSAGE_MODES,
  type GcpPubSubConfig,
  type MessageMode,
} from './config.js';
export {
  GcpPubSubConnector,
  publishOptions,
  settle,
  type GcpPubSubConnectorOptions,
  type PlannedMessage,
  type PubSubLike,
  type PubSubMessage,
  type TopicLike,
  type TopicPublishOptions,
} from './connector.js';
export { GRPC, classifyPubSubError, grpcCode } from './errors.js';
export {
  MAX_BATCH_BYTES,
  PUBSUB_LIMITS,
  attributeProblem,
  messageBytes,
  topicIdProblem,
  wirePointBytes,
} from './limits.js';
