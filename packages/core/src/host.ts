/**
 * `@bifrost/core/host`: the engine behind the plugin face, for the gateway, the testkit and other
 * hosts: the durable queue, the delivery pipeline, routing, metrics, TLS loading and plugin checks.
 * Plugins import `@bifrost/core` only.
 */
export { isApiCompatible, isConnectorDefinition, isSourceDefinition, PLUGIN_BRAND } from './plugin.js';
export { ERROR_BRAND, labelError } from './errors.js';
export { isSecretSchema, secretPaths, SECRET_META_KEY } from './config/secret.js';
export { dataPointInputSchema, parsePoints, PointValidationError } from './data-point.js';
export { DEFAULT_MAX_NAME_LENGTH, MAX_TIMESTAMP_MS, MAX_VALUE_DEPTH, nameProblem } from './point-checks.js';
export type * from './tls/types.js';
export * from './queue/types.js';
export { createMemoryQueue } from './queue/memory-queue.js';
export { openSqliteQueue, type SqliteQueueOptions, type QueueLogger } from './queue/sqlite-queue.js';
export { checkQueueFile, type QueueCheckReport } from './queue/check.js';
export { salvageQueueFile, salvageMessage, type SalvageReport } from './queue/salvage.js';
export { readMarker, type QueueMarker } from './queue/queue-marker.js';
export { TTL_EXPIRED_CODE } from './queue/chunked-queue.js';
export type * from './pipeline/types.js';
export * from './pipeline/pipeline.js';
export {
  batchSizeWarning,
  connectorDeliveryDefaults,
  DEFAULT_DELIVERY_OPTIONS,
  resolveDeliveryOptions,
  type DeliveryOptionsInput,
} from './pipeline/options.js';
export { RetrySchedule } from './pipeline/backoff.js';
export { probeConnector, type ConnectionTestResult, type ProbeOptions } from './pipeline/probe.js';
export { ConnectorBreaker } from './pipeline/breaker.js';
export { WRITE_TIMEOUT_CODE, CONNECT_TIMEOUT_CODE, HEALTH_CHECK_TIMEOUT_CODE } from './pipeline/connector-runner.js';
export type { ConnectorTotals } from './pipeline/delivery-recorder.js';
export { REJECTED_POINT_CODE } from './pipeline/settle-plan.js';
export type { DeviceSnapshot } from './pipeline/device-stats.js';
export { PipelineMetrics, type ConnectorGaugeSource } from './metrics/pipeline-metrics.js';
export { compileCondition, ConditionSyntaxError, CONDITION_FIELDS, type PointPredicate } from './routing/condition.js';
export {
  createRouter,
  RoutingConfigError,
  type RoutingRule,
  type RouterOptions,
  type RouteTarget,
  type Router,
} from './routing/router.js';
export { loadTlsMaterial, parseCertificates, type TlsFileOptions, type LoadTlsOptions } from './tls/load.js';
export {
  certificateExpiry,
  expiringSoon,
  registerTlsExpiryGauge,
  DEFAULT_EXPIRY_WARNING_MS,
  type CertificateExpiry,
  type TlsExpiryGauge,
} from './tls/expiry.js';
export { watchTlsMaterial, type TlsWatchOptions, type TlsWatcher } from './tls/watch.js';
export { manageConnectorTls, type ConnectorTlsOptions, type ConnectorTls } from './tls/manage.js';
