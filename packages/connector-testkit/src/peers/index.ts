// The peer harness without vitest, so benches and scripts can import `@bifrost/connector-testkit/peers`.
export { INSTALL_HINT, binaryNotFound, findBinary, peersDir, postgresBinDir } from './binaries.js';
export { LogRing } from './log-ring.js';
export { httpReady, tcpOpen, waitFor } from './probes.js';
export {
  PEER_HOST,
  ProcessPeer,
  startProcessPeer,
  type PeerContext,
  type ProcessPeerSpec,
  type UserIds,
} from './process-peer.js';
export { PEER_DIR_PREFIX, reapOrphans } from './reaper.js';
export { isCi, requirePeer, type PeerCheck, type PeerRequirement } from './require-peer.js';
export {
  mosquittoBinary,
  mosquittoConf,
  startMosquitto,
  type MosquittoOptions,
  type MosquittoPeer,
  type MqttUser,
} from './mosquitto.js';
export { createKafkaTopic } from './kafka-topics.js';
export {
  KAFKA_VERSION,
  kafkaInstallation,
  kafkaServerProperties,
  startKafka,
  startKafkaCluster,
  type KafkaCluster,
  type KafkaClusterMembership,
  type KafkaClusterOptions,
  type KafkaOptions,
  type KafkaPeer,
  type KafkaUser,
} from './kafka.js';
export {
  rabbitConf,
  rabbitInstallation,
  startRabbitMq,
  type RabbitOptions,
  type RabbitPeer,
  type RabbitUser,
} from './rabbitmq.js';
export * from '../tls/index.js';
export {
  postgresInstallation,
  startPostgres,
  timescaleAvailable,
  type PostgresOptions,
  type PostgresPeer,
  type PostgresUser,
} from './postgres.js';
export {
  influxd2Binary,
  influxdBinary,
  influxdV2Binary,
  startInflux,
  type InfluxOptions,
  type InfluxPeer,
  type InfluxRow,
} from './influxdb.js';
export { startInfluxV2, type InfluxV2Options, type InfluxV2Peer } from './influxdb-v2.js';
export {
  sharedToxiproxy,
  startToxiproxy,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  ToxiproxyClient,
  ToxiproxyProxy,
  type Toxic,
  type ToxicOptions,
  type ToxiproxyPeer,
} from './toxiproxy.js';
export { pstestBinary, startPubSubFake, type PubSubFakePeer } from './pstest.js';
export {
  acceptedPointsOf,
  startHttpReceiver,
  type HttpReceiverBehaviour,
  type HttpReceiverOptions,
  type HttpReceiverPeer,
  type HttpReceiverPort,
  type ReceivedRequest,
} from './http-receiver.js';
export { faultProxyFactory, startFaultProxy } from './fault-proxy.js';
export { pinnedPort } from './process-peer.js';
export {
  iotHubSasToken,
  newDeviceKey,
  startIotHubEmulator,
  type IotHubBehaviour,
  type IotHubConnect,
  type IotHubEmulatorOptions,
  type IotHubEmulatorPeer,
  type IotHubIdentity,
  type IotHubMessage,
  type IotHubPort,
} from './iot-hub.js';
export {
  startAwsShadowService,
  SHADOW_SERVICE_LIMITS,
  type AwsShadowService,
  type AwsShadowServiceOptions,
  type ShadowDocument,
  type ShadowUpdateRecord,
} from './aws-shadow-service.js';
