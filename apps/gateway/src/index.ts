export { loadConfigFile, parseConfigText, type LoadedConfig } from './config/load.js';
export { ConfigFileError, formatIssues, type ConfigIssue } from './config/issues.js';
export {
  configFileSchema,
  gatewaySchema,
  connectorEntrySchema,
  sourceEntrySchema,
  type GatewayConfig,
  type ConnectorEntry,
  type SourceEntry,
} from './config/schema.js';
export { SecretRegistry, REDACTED, isSecretKey } from './config/secrets.js';
export { configJsonSchema } from './config/json-schema.js';
export { discoverPlugins, findByType, findExplicit, type PluginPackage, type PluginRole } from './plugins/discovery.js';
export { loadPlugin, isApiCompatible, PluginApiMismatchError } from './plugins/load.js';
export { resolvePlugins, type ResolvedConnector, type ResolvedSource } from './plugins/resolve.js';
export { startGateway, openConfiguredQueue, GATEWAY_VERSION, type RunningGateway } from './gateway.js';
export { buildApi, type ApiDeps } from './http/server.js';
export { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded-broker.js';
