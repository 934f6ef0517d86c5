// `pnpm bench mqtt`: points into Mosquitto at QoS 1, one message per point, the way users send them:
// POSTed to `bifrost run` (REST, durable SQLite queue sync=batch, MQTT connector) with the defaults
// a user gets and tuned, beside a raw mqtt.js QoS 1 publish loop (its best window of messages in
// flight) publishing the same messages to the same broker in the same run. Every side is counted by
// the same independent subscriber (its own thread). Median and range of alternating rounds.
// Erasable TypeScript only (Node type stripping).
import mqtt from 'mqtt';
import { startMosquitto } from '@bifrost/connector-testkit/peers';
import { alternate, compareRounds, machineLoad, writeResults } from '@bifrost/connector-testkit/bench';
import { Counter, offer, sleep, startBifrost, type BifrostSettings } from './_load.ts';

const POINTS = Number(process.env.BENCH_POINTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOWS = [1000, 5000, 20_000];
const PER_REQUEST = 1000;
const CONNECTIONS = 8;

const broker = await startMosquitto();
const counter = await Counter.start(broker.url, '#');
let runs = 0;

/** The message of point `k` of a raw run: the same JSON point and topic shape as the connector's. */
function message(run: number, k: number): { topic: string; payload: string } {
  const device = `PLC${String(k % 50).padStart(3, '0')}`;
  const sent = performance.timeOrigin + performance.now();
  return {
    topic: `raw/${device}/temperature`,
    payload: `{"id":"raw${run}-${k}","deviceId":"${device}","tagName":"temperature","value":${sent},"quality":"GOOD","timestamp":${1_700_000_000_000 + k},"unit":"C"}`,
  };
}

/** The raw loop: one mqtt.js client, QoS 1, at most `window` unacknowledged; rate until the subscriber has them all. */
async function raw(window: number): Promise<number> {
  await counter.reset();
  const run = ++runs;
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  try {
    const t0 = performance.timeOrigin + performance.now();
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let inflight = 0;
      let done = 0;
      const pump = () => {
        while (inflight < window && next < POINTS) {
          const m = message(run, next++);
          inflight++;
          client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
            if (err) return reject(err);
            inflight--;
            if (++done === POINTS) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    for (let c = await counter.count(); c.count < POINTS; c = await counter.count()) await sleep(20);
    const { lastAt } = await counter.count();
    return POINTS / ((lastAt - t0) / 1000);
  } finally {
    await client.endAsync();
  }
}

const connector = (tuned: boolean): BifrostSettings => ({
  connector: [
    'type: mqtt',
    `endpoint: ${broker.url}`,
    ...(tuned ? ['max_in_flight: 4'] : []),
    'provider_config:',
    '  qos: 1',
    '  topic_prefix: bench',
  ],
  ...(tuned && { cloud: ['batch_size: 5000', 'batch_timeout: 5ms'] }),
});
const defaults = await startBifrost(connector(false));
const tuned = await startBifrost(connector(true));
try {
  const ours = async (product: typeof defaults) =>
    (
      await offer({
        product,
        path: '/api/data',
        format: 'json',
        points: POINTS,
        perRequest: PER_REQUEST,
        connections: CONNECTIONS,
        counter,
      })
    ).points_per_s;
  await ours(defaults);
  await ours(tuned);
  let window = WINDOWS[0]!;
  let best = 0;
  for (const w of WINDOWS) {
    const r = await raw(w);
    console.log(`raw window ${w}: ${Math.round(r)} points/s`);
    if (r > best) [best, window] = [r, w];
  }
  const s = await alternate(
    ROUNDS,
    { defaults: () => ours(defaults), tuned: () => ours(tuned), raw: () => raw(window) },
    (round, x) =>
      console.log(`round ${round}: defaults ${x.defaults}, tuned ${x.tuned}, raw ${Math.round(x.raw)} points/s`),
  );
  const what = `REST ${PER_REQUEST} points per request (${CONNECTIONS} connections) -> bifrost run (SQLite queue sync=batch) -> MQTT QoS 1, one message per point, ${POINTS} points, Mosquitto`;
  const base = `raw: mqtt.js QoS 1 publish loop, window ${window} (its best of ${WINDOWS.join('/')})`;
  const note = `median of ${ROUNDS} alternating rounds (defaults, tuned, raw); both counted by the same subscriber; ${machineLoad()}`;
  writeResults(
    'mqtt',
    [
      compareRounds(
        `${what}, defaults (batch_size 1000, batch_timeout 1s, max_in_flight 2); ${base}`,
        s.defaults,
        s.raw,
        { note },
      ),
      compareRounds(`${what}, tuned (batch_size 5000, batch_timeout 5ms, max_in_flight 4); ${base}`, s.tuned, s.raw, {
        note,
      }),
    ],
    { points: POINTS },
  );
} finally {
  await defaults.stop();
  await tuned.stop();
  await counter.close();
  await broker.dispose();
}
process.exit(0);
