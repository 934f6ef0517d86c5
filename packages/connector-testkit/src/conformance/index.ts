export type {
  Collector,
  ConformanceCapabilities,
  ConnectionVariant,
  ConnectorSetup,
  ConnectorUnderTest,
  FaultProxy,
  FaultProxyFactory,
  NetworkFault,
  PeerAddress,
  ReceivedPoint,
  Scenario,
  ScenarioContext,
  VariantKind,
} from './types.js';
export { UnsupportedFaultError } from './types.js';
export { describeConnector, runScenario, ScenarioSkipped } from './describe-connector.js';
export * from './scenarios/index.js';
export { checkDelivery, defaultCompare, expectDelivered, makePoint, makePoints, type DeliveryCheck } from './points.js';
export {
  CONFORMANCE_CONNECTOR,
  FAST_DELIVERY,
  batchSizeOf,
  conformanceLogger,
  createConnector,
  healthOf,
  metricsOf,
  noCancel,
  openCollector,
  setupFor,
  sleep,
  startDelivery,
  waitUntil,
  writeInBatches,
  type Delivery,
} from './harness.js';
