// `pnpm bench azure-iot`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector, messages: point) beside a raw azure-iot-device send loop with the same message shape
// (the point as JSON, messageId, content type and encoding, the same four properties), on the same
// IoT Hub emulator in the same run. The raw loop gets its best window of sends in flight; ours runs
// with the defaults a user gets (host batch 1000, 2 in flight, max_inflight default) and with tuned
// settings. Rounds alternate raw, ours (defaults) and ours (tuned); the result reports the median and range.
import device from 'azure-iot-device';
import transports from 'azure-iot-device-mqtt';
import common from 'azure-iot-common';
import azureIot, { DEFAULT_MAX_INFLIGHT, azureIotConfigSchema, planMessages } from '@bifrost/connector-azure-iot';
import { createTlsFixture, newDeviceKey, startIotHubEmulator } from '@bifrost/connector-testkit/peers';
import {
  alternate,
  compareRounds,
  machineLoad,
  makePoints,
  pipelineThroughput,
  writeResults,
} from '@bifrost/connector-testkit/bench';
import type { DataPoint } from '@bifrost/core';

const POINTS = Number(process.env.BENCH_POINTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOWS = (process.env.BENCH_WINDOWS ?? '50,100,400,1000').split(',').map(Number);

const tls = createTlsFixture();
const identity = { deviceId: 'bench', key: newDeviceKey() };
const hub = await startIotHubEmulator({ tls: tls.serverTls(), devices: [identity] });
const connectionString = hub.connectionString(identity);
const topic = 'devices/bench/messages/events/';

/** Zero loss: every point id is among the messages the emulator stored (then cleared for the next run). */
async function checkAndReset(side: string, points: readonly DataPoint[]): Promise<void> {
  const stored = new Set((await hub.messages()).map((m) => m.system.mid));
  const missing = points.filter((p) => !stored.has(p.id)).length;
  if (missing) throw new Error(`${side}: ${missing} of ${points.length} points not stored by the emulator`);
  await hub.reset();
}

/**
 * What a user of the SDK writes: one Client, one `sendEvent` per point with the same message as the
 * connector's (built by the same `planMessages`, so the shape is identical), `window` sends
 * awaiting their PUBACK at once, NoRetry as ours.
 */
async function raw(window: number): Promise<number> {
  const points = makePoints(POINTS);
  const client = device.Client.fromConnectionString(connectionString, transports.Mqtt);
  client.setRetryPolicy(new common.NoRetry());
  await client.setOptions({ ca: tls.ca.cert });
  await client.open();
  try {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: window }, async () => {
        for (let p = points[next++]; p; p = points[next++]) {
          const [m] = planMessages([p], { mode: 'point', topic, extras: [] }).messages;
          const msg = new device.Message(m!.body);
          msg.messageId = m!.messageId;
          msg.contentType = 'application/json';
          msg.contentEncoding = 'utf-8';
          for (const [k, v] of m!.properties) msg.properties.add(k, v);
          await client.sendEvent(msg);
        }
      }),
    );
    const rate = points.length / ((performance.now() - t0) / 1000);
    await checkAndReset('raw', points);
    return rate;
  } finally {
    await client.close();
  }
}

interface OurSettings {
  maxInflight?: number;
  batchSize?: number;
  hostInFlight?: number;
}

async function ours(s: OurSettings): Promise<number> {
  const points = makePoints(POINTS);
  const rate = await pipelineThroughput({
    definition: azureIot,
    config: azureIotConfigSchema.parse({
      connection_string: connectionString,
      ...(s.maxInflight !== undefined && { max_inflight: s.maxInflight }),
    }),
    tls: tls.clientTls('tls'),
    points,
    delivery: {
      flushIntervalMs: 5,
      ...(s.batchSize !== undefined && { batchSize: s.batchSize }),
      ...(s.hostInFlight !== undefined && { maxInFlight: s.hostInFlight }),
    },
  });
  await checkAndReset('ours', points);
  return rate;
}

try {
  // Warm-up (JIT, TLS, SQLite) on both sides, not recorded.
  await raw(100);
  await ours({});
  const rawTuning = new Map<number, number>();
  const ourTuning = new Map<number, number>();
  for (const w of WINDOWS) {
    rawTuning.set(w, await raw(w));
    ourTuning.set(w, await ours({ maxInflight: w, batchSize: 1000, hostInFlight: 2 }));
  }
  const best = (t: Map<number, number>) => WINDOWS.reduce((a, b) => ((t.get(b) ?? 0) > (t.get(a) ?? 0) ? b : a));
  const rawWindow = best(rawTuning);
  const ourWindow = best(ourTuning);
  console.log(
    `tuning (points/s by messages in flight): ${WINDOWS.map((w) => `${w}: raw ${Math.round(rawTuning.get(w) ?? 0)}, ours ${Math.round(ourTuning.get(w) ?? 0)}`).join('; ')}`,
  );
  const tuned: OurSettings = { maxInflight: ourWindow, batchSize: 1000, hostInFlight: 2 };
  const rounds = await alternate(
    ROUNDS,
    { raw: () => raw(rawWindow), defaults: () => ours({}), tuned: () => ours(tuned) },
    (round, x) =>
      console.log(
        `round ${round}: raw ${Math.round(x.raw)}, ours defaults ${Math.round(x.defaults)}, ours tuned ${Math.round(x.tuned)}`,
      ),
  );
  const rawDesc = `raw: azure-iot-device Client.sendEvent per point, the same message (messageId, content type, 4 properties), ${rawWindow} sends in flight (best of ${WINDOWS.join(', ')})`;
  const note = `median of ${ROUNDS} alternating rounds (raw, defaults, tuned); ${machineLoad()}`;
  writeResults(
    'azure-iot',
    [
      compareRounds(
        `durable e2e (SQLite queue sync=batch + pipeline + connector, messages: point) on the IoT Hub emulator, defaults (batch 1000, 2 batches in flight, max_inflight ${DEFAULT_MAX_INFLIGHT}; flush 5 ms); ${rawDesc}`,
        rounds.defaults,
        rounds.raw,
        { note },
      ),
      compareRounds(
        `durable e2e as above, tuned (batch 1000, 2 batches in flight, flush 5 ms, max_inflight ${ourWindow}, best of ${WINDOWS.join(', ')}); ${rawDesc}`,
        rounds.tuned,
        rounds.raw,
        { note },
      ),
    ],
    { points: POINTS },
  );
} finally {
  await hub.dispose();
  tls.dispose();
}
