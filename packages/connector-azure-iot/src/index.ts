import { defineConnector, pointJsonBytes, type ConnectorDefinition } from '@bifrost/core';
import { azureIotConfigSchema } from './config.js';
import { AzureIotConnector } from './connector.js';

/**
 * The Azure IoT Hub connector plugin (`type: azure-iot`): device-to-cloud messages through
 * Microsoft's device SDK (`azure-iot-device`, MQTT over TLS or WebSockets), SAS (renewed) or X.509
 * authentication of a device or module identity, one message per point or a JSON array per batch
 * under IoT Hub's 256 KB limit, with `messageId`, content type and application properties, and
 * optionally the latest values in the device twin's reported properties. The SDK is loaded only
 * when a connector of this type connects.
 */
// Typed through the config module, so the declaration file names no zod import of its own.
const azureIot: ConnectorDefinition<typeof azureIotConfigSchema> = defineConnector({
  type: 'azure-iot',
  configSchema: azureIotConfigSchema,
  // The byte limit is per instance: only `messages: batch` puts a batch in one message (AzureIotConnector.maxBatchBytes).
  capabilities: { ordering: 'none', maxBatch: 1000 },
  pointBytes: pointJsonBytes,
  create: (config, ctx) => new AzureIotConnector(config, ctx),
});

export default azureIot;
export {
  azureIotConfigSchema,
  BUILTIN_PROPERTIES,
  DEFAULT_MAX_INFLIGHT,
  MESSAGE_MODES,
  type AzureIotConfig,
  type MessageMode,
} from './config.js';
export { AzureIotConnector, type AzureIotConnectorOptions } from './connector.js';
export { parseConnectionString, type DeviceConnection } from './connection-string.js';
export { classifyAzureError, type ErrorScene } from './errors.js';
export {
  CONTENT_ENCODING,
  CONTENT_TYPE,
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  PROPERTY_RESERVE_BYTES,
  batchMessageId,
  planMessages,
  type MessageFormat,
  type PlannedMessage,
  type PlannedWrite,
} from './messages.js';
export { loadAzureSdk, type AzureSdk, type IotClientLike, type TwinLike } from './sdk.js';
export { sendWindowed, type SendOutcome } from './send-window.js';
export {
  TwinReporter,
  twinPropertyName,
  type PatchReported,
  type ReportedPatch,
  type ReportedReading,
} from './twin.js';
