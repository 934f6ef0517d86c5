/**
 * `@bifrost/core`: the plugin face. Everything a connector or source author needs, and nothing of
 * the engine (queue, pipeline, router, metrics, TLS loading: those are `@bifrost/core/host`).
 */
export { z } from 'zod';
export {
  defineConnector,
  defineSource,
  estimatePointBytes,
  PLUGIN_API_VERSION,
  type Connector,
  type ConnectorCapabilities,
  type ConnectorDefinition,
  type Emit,
  type HealthProbe,
  type Logger,
  type PluginContext,
  type Source,
  type SourceDefinition,
  type WriteOptions,
  type WriteReceipt,
} from './plugin.js';
export { newPointId, KNOWN_QUALITIES, type DataPoint, type DataPointInput, type PointValue } from './data-point.js';
export {
  AuthError,
  BifrostError,
  CapacityError,
  classifyError,
  ConfigError,
  isBifrostError,
  PartialWriteError,
  PayloadError,
  TransientError,
  type BifrostErrorOptions,
  type ErrorKind,
  type RejectedPoint,
} from './errors.js';
export { parseDuration, durationSchema, DurationError } from './config/duration.js';
export { secret } from './config/secret.js';
export {
  compilePointTemplate,
  pointTemplatePlaceholders,
  POINT_TEMPLATE_FIELDS,
  type PointTemplate,
  type PointTemplateOptions,
  type TemplateField,
} from './template/point-template.js';
export type { TlsMaterial } from './tls/types.js';
export { seededRandom, type Random } from './random.js';
export { abortable } from './abortable.js';
export { wirePoint, pointJson, pointJsonBytes, pointJsonByteLength, pointsJson, type WirePoint } from './wire-point.js';
export { jsonBytes } from './json-bytes.js';
