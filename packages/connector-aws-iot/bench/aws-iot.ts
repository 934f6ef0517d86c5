// `pnpm bench aws-iot`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector) beside a raw aws-iot-device-sdk-v2 MQTT 5 publish loop with the same QoS (1), the same
// message shape (one JSON point per message) and TLS material, on the same Mosquitto mTLS listener
// (max_packet_size 128 KB + framing, Receive Maximum 100, like AWS IoT) in the same run. Each side
// first gets its best number of batches in flight; then rounds alternate raw and ours, and the
// result reports the median and range. AWS IoT's per-connection publish quota (100/s) would make
// both sides 100 points/s, so the tuned case lifts `max_publish_rate` on ours and the SDK's
// AWS-IoT-Core flow control on the raw side; the defaults case runs both at AWS's quota.
import { randomBytes } from 'node:crypto';
import { iot, mqtt5 } from 'aws-iot-device-sdk-v2';
import { connect } from 'mqtt';
import awsIot, { awsIotConfigSchema } from '@bifrost/connector-aws-iot';
import { createTlsFixture, startMosquitto } from '@bifrost/connector-testkit/peers';
import {
  alternate,
  chunk,
  compareRounds,
  concurrentLoop,
  connectorCases,
  machineLoad,
  makePoints,
  pipelineThroughput,
  writeResults,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';
import { pointJson, type DataPoint } from '@bifrost/core';

const POINTS = Number(process.env.BENCH_POINTS ?? 20_000);
const DEFAULT_POINTS = Number(process.env.BENCH_DEFAULT_POINTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOWS = (process.env.BENCH_WINDOWS ?? '1,2,4,8').split(',').map(Number);
const THING = 'bench-gw';
const PREFIX = 'bench';

const tls = createTlsFixture();
const broker = await startMosquitto({ tls: tls.serverTls(), maxPacketSize: 128 * 1024 + 512, maxInflight: 100 });
const port = broker.ports.mqttsMutual;
const clientTls = tls.clientTls('mtls');

/**
 * Reads every published point id back (mqtt.js, QoS 1, plain listener), so each side is checked for
 * zero loss. Not the AWS client: aws-crt hands received payloads to JS a tick late (see the tests).
 */
const seen = new Set<string>();
const reader = connect(broker.url, {
  protocolVersion: 5,
  clientId: `bench-reader-${randomBytes(3).toString('hex')}`,
});
reader.on('message', (_topic, payload) => {
  const parsed = JSON.parse(payload.toString('utf8')) as { id: string } | Array<{ id: string }>;
  for (const p of Array.isArray(parsed) ? parsed : [parsed]) seen.add(p.id);
});
await new Promise<void>((resolve) => reader.once('connect', () => resolve()));
await reader.subscribeAsync(`${PREFIX}/#`, { qos: 1 });

async function checkAndReset(side: string, points: readonly DataPoint[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (points.some((p) => !seen.has(p.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const missing = points.filter((p) => !seen.has(p.id)).length;
  if (missing) throw new Error(`${side}: ${missing} of ${points.length} points not read back`);
  seen.clear();
}

/** What a user of the SDK writes: one publish per point on the same topic, a batch awaited as a whole, `window` batches in flight. */
async function raw(
  points: readonly DataPoint[],
  batchSize: number,
  window: number,
  awsFlowControl: boolean,
): Promise<number> {
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
    'localhost',
    String(clientTls.cert),
    String(clientTls.key),
  );
  builder
    .withPort(port)
    .withCertificateAuthority(String(clientTls.ca))
    .withConnectProperties({ clientId: `bench-raw-${randomBytes(3).toString('hex')}`, keepAliveIntervalSeconds: 60 })
    .withExtendedValidationAndFlowControlOptions(
      awsFlowControl
        ? mqtt5.ClientExtendedValidationAndFlowControl.AwsIotCoreDefaults
        : mqtt5.ClientExtendedValidationAndFlowControl.None,
    );
  const client = new mqtt5.Mqtt5Client(builder.build());
  await new Promise<void>((resolve, reject) => {
    client.once('connectionSuccess', () => resolve());
    client.once('connectionFailure', (e: mqtt5.ConnectionFailureEvent) =>
      reject(new Error(String(e.error.error_name))),
    );
    client.start();
  });
  try {
    const rate = await concurrentLoop(chunk(points, batchSize), window, async (batch) => {
      const acks = await Promise.all(
        batch.map((p) =>
          client.publish({
            topicName: `${PREFIX}/${THING}/${p.deviceId}/${p.tagName}`,
            payload: pointJson(p),
            qos: mqtt5.QoS.AtLeastOnce,
          }),
        ),
      );
      if (acks.some((a) => Number(a?.reasonCode ?? 0) >= 0x80)) throw new Error('raw: a PUBACK refused a message');
    });
    await checkAndReset('raw', points);
    return rate;
  } finally {
    client.stop();
    client.close();
  }
}

async function ours(points: readonly DataPoint[], delivery: DeliveryOptionsInput, atQuota: boolean): Promise<number> {
  const rate = await pipelineThroughput({
    definition: awsIot,
    config: awsIotConfigSchema.parse({
      endpoint: 'localhost',
      port,
      thing_name: THING,
      client_id: `bench-ours-${randomBytes(3).toString('hex')}`,
      topic_prefix: PREFIX,
      ...(!atQuota && { max_publish_rate: 1e9, max_throughput_kib: 1e9 }),
    }),
    tls: clientTls,
    points,
    delivery,
  });
  await checkAndReset('ours', points);
  return rate;
}

try {
  // Warm-up (JIT, TLS, SQLite) on both sides, not recorded.
  await raw(makePoints(POINTS), 1000, 2, false);
  await ours(makePoints(POINTS), {}, false);
  const cases = await connectorCases({
    ours: `durable e2e (SQLite queue sync=batch + pipeline + connector, messages: point, QoS 1, max_publish_rate lifted) on Mosquitto mTLS (Receive Maximum 100), ${POINTS} points`,
    raw: 'aws-iot-device-sdk-v2 Mqtt5Client publish per point (QoS 1, same topic and JSON, the SDK flow control off)',
    batches: [1000],
    windows: WINDOWS,
    rounds: ROUNDS,
    runRaw: (batch, window) => raw(makePoints(POINTS), batch, window, false),
    runOurs: (delivery) => ours(makePoints(POINTS), delivery, false),
  });
  // At AWS IoT's quota: both sides held to 100 publishes per second by their own pacing.
  const quota = await alternate(3, {
    ours: () => ours(makePoints(DEFAULT_POINTS), {}, true),
    raw: () => raw(makePoints(DEFAULT_POINTS), 1000, 1, true),
  });
  cases.push(
    compareRounds(
      `at AWS IoT's quota: ours with the config and delivery defaults (max_publish_rate 100/s, messages: point); raw: the SDK's AWS IoT Core flow control (100 publishes/s); ${DEFAULT_POINTS} points`,
      quota.ours,
      quota.raw,
      { note: `median of 3 alternating rounds; ${machineLoad()}` },
    ),
  );
  writeResults('aws-iot', cases, { points: POINTS });
} finally {
  await reader.endAsync(true);
  await broker.dispose();
  tls.dispose();
}
