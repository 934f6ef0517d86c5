export { z } from 'zod';
export * from './data-point.js';
export * from './errors.js';
export * from './plugin.js';
export type * from './tls/types.js';
export * from './queue/types.js';
export { createMemoryQueue } from './queue/memory-queue.js';
export { openSqliteQueue, type SqliteQueueOptions, type QueueLogger } from './queue/sqlite-queue.js';
export { TTL_EXPIRED_CODE } from './queue/chunked-queue.js';
export type * from './pipeline/types.js';
export * from './pipeline/pipeline.js';
export { DEFAULT_DELIVERY_OPTIONS, resolveDeliveryOptions, type DeliveryOptionsInput } from './pipeline/options.js';
export { RetrySchedule } from './pipeline/backoff.js';
export { ConnectorBreaker } from './pipeline/breaker.js';
export { WRITE_TIMEOUT_CODE, CONNECT_TIMEOUT_CODE, HEALTH_CHECK_TIMEOUT_CODE } from './pipeline/connector-runner.js';
export { REJECTED_POINT_CODE } from './pipeline/settle-plan.js';
export type { DeviceSnapshot } from './pipeline/device-stats.js';
export { PipelineMetrics, type ConnectorGaugeSource } from './metrics/pipeline-metrics.js';
export { parseDuration, durationSchema, DurationError } from './config/duration.js';
export { secret, isSecretSchema, secretPaths, SECRET_META_KEY } from './config/secret.js';
export { compileCondition, ConditionSyntaxError, CONDITION_FIELDS, type PointPredicate } from './routing/condition.js';
export {
  createRouter,
  RoutingConfigError,
  type RoutingRule,
  type RouterOptions,
  type RouteTarget,
  type Router,
} from './routing/router.js';
export {
  compilePointTemplate,
  pointTemplatePlaceholders,
  POINT_TEMPLATE_FIELDS,
  type PointTemplate,
  type PointTemplateOptions,
  type TemplateField,
} from './template/point-template.js';
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
