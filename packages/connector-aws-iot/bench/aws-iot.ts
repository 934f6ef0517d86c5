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
  benchCase,
  chunk,
  concurrentLoop,
  makePoints,
  pipelineThroughput,
  writeResults,
  type BenchCase,
} from '@bifrost/connector-testkit/bench';
import { pointJson, type DataPoint } from '@bifrost/core';

const POINTS = Number(process.env.BENCH_POINTS ?? 20_000);
const DEFAULT_POINTS = Number(process.env.BENCH_DEFAULT_POINTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
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
async function raw(points: readonly DataPoint[], window: number, awsFlowControl: boolean): Promise<number> {
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
    const rate = await concurrentLoop(chunk(points, BATCH), window, async (batch) => {
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

async function ours(points: readonly DataPoint[], window: number, defaults: boolean): Promise<number> {
  const rate = await pipelineThroughput({
    definition: awsIot,
    config: awsIotConfigSchema.parse({
      endpoint: 'localhost',
      port,
      thing_name: THING,
      client_id: `bench-ours-${randomBytes(3).toString('hex')}`,
      topic_prefix: PREFIX,
      ...(!defaults && { max_publish_rate: 1e9, max_throughput_kib: 1e9 }),
    }),
    tls: clientTls,
    points,
    delivery: { batchSize: BATCH, maxInFlight: window, flushIntervalMs: 5 },
  });
  await checkAndReset('ours', points);
  return rate;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (i: number) => s[i] ?? 0;
  return s.length % 2 ? at((s.length - 1) / 2) : (at(s.length / 2 - 1) + at(s.length / 2)) / 2;
};

type Case = BenchCase & {
  rounds: number;
  points_per_run: number;
  points_per_s_range: [number, number];
  baseline_points_per_s_range: [number, number];
  round_ratios: number[];
};

async function alternate(
  label: string,
  rounds: number,
  count: number,
  rawRun: () => Promise<number>,
  ourRun: () => Promise<number>,
): Promise<Case> {
  const rawRounds: number[] = [];
  const ourRounds: number[] = [];
  for (let round = 0; round < rounds; round++) {
    rawRounds.push(await rawRun());
    ourRounds.push(await ourRun());
    console.log(
      `${label} round ${round + 1}: raw ${Math.round(rawRounds.at(-1)!)}, ours ${Math.round(ourRounds.at(-1)!)}`,
    );
  }
  return {
    ...benchCase(label, median(ourRounds), median(rawRounds)),
    rounds,
    points_per_run: count,
    points_per_s_range: [Math.round(Math.min(...ourRounds)), Math.round(Math.max(...ourRounds))],
    baseline_points_per_s_range: [Math.round(Math.min(...rawRounds)), Math.round(Math.max(...rawRounds))],
    round_ratios: ourRounds.map((o, i) => Math.round((o / (rawRounds[i] ?? o)) * 100) / 100),
  };
}

try {
  // Warm-up (JIT, TLS, SQLite) on both sides, not recorded.
  await raw(makePoints(POINTS), 2, false);
  await ours(makePoints(POINTS), 2, false);
  const tuning = new Map<number, { raw: number; ours: number }>();
  for (const w of WINDOWS)
    tuning.set(w, { raw: await raw(makePoints(POINTS), w, false), ours: await ours(makePoints(POINTS), w, false) });
  const rate = (w: number, side: 'raw' | 'ours') => tuning.get(w)?.[side] ?? 0;
  const best = (side: 'raw' | 'ours') => WINDOWS.reduce((a, b) => (rate(b, side) > rate(a, side) ? b : a));
  const rawWindow = best('raw');
  const ourWindow = best('ours');
  console.log(
    `tuning (points/s by batches in flight): ${WINDOWS.map((w) => `${w}: raw ${Math.round(rate(w, 'raw'))}, ours ${Math.round(rate(w, 'ours'))}`).join('; ')}`,
  );
  const tuned = await alternate(
    `durable e2e (SQLite queue sync=batch + pipeline + connector, messages: point, QoS 1, max_publish_rate lifted) on Mosquitto mTLS (Receive Maximum 100), batch ${BATCH}, ${ourWindow} in flight; raw: aws-iot-device-sdk-v2 Mqtt5Client publish per point (QoS 1, same topic and JSON, flow control off), ${rawWindow} batches of ${BATCH} in flight; median of ${ROUNDS} alternating rounds`,
    ROUNDS,
    POINTS,
    () => raw(makePoints(POINTS), rawWindow, false),
    () => ours(makePoints(POINTS), ourWindow, false),
  );
  const defaults = await alternate(
    `defaults at AWS IoT's quota: ours with the config defaults (max_publish_rate 100/s, messages: point), 1 batch in flight; raw: the SDK's AWS IoT Core flow control (100 publishes/s), ${rawWindow} batches in flight; ${DEFAULT_POINTS} points; median of 3 alternating rounds`,
    3,
    DEFAULT_POINTS,
    () => raw(makePoints(DEFAULT_POINTS), rawWindow, true),
    () => ours(makePoints(DEFAULT_POINTS), 1, true),
  );
  writeResults('aws-iot', [tuned, defaults]);
  for (const c of [tuned, defaults])
    console.log(
      `ours ${c.points_per_s_range.join('-')} points/s, raw ${c.baseline_points_per_s_range.join('-')} points/s; per-round ratios ${c.round_ratios.join(', ')}`,
    );
} finally {
  await reader.endAsync(true);
  await broker.dispose();
  tls.dispose();
}
