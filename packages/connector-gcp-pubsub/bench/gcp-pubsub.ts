// `pnpm bench gcp-pubsub`: durable end-to-end throughput (SQLite queue + core pipeline + this
// connector) beside a raw @google-cloud/pubsub publish loop with the same message shape (the point
// as JSON data, attributes device_id, tag_name, quality, id) and the same client batching, on the
// same Pub/Sub fake (pstest) in the same run. Each side first gets its best number of batches in
// flight; then rounds alternate ours with the delivery defaults, ours tuned and raw, and the result
// reports the median and range.
import { PubSub, v1 } from '@google-cloud/pubsub';
import gcpPubSub, { gcpPubSubConfigSchema, publishOptions } from '@bifrost/connector-gcp-pubsub';
import { startPubSubFake } from '@bifrost/connector-testkit/peers';
import {
  chunk,
  concurrentLoop,
  connectorCases,
  makePoints,
  pipelineThroughput,
  writeResults,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';
import { pointJson, type DataPoint } from '@bifrost/core';

const POINTS = Number(process.env.BENCH_POINTS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const WINDOWS = (process.env.BENCH_WINDOWS ?? '1,2,4,8').split(',').map(Number);
const PROJECT = 'bench';
const TOPIC = 'bench';
const SUB = 'bench-check';

const fake = await startPubSubFake();
const admin = new PubSub({ projectId: PROJECT, apiEndpoint: fake.emulatorHost, emulatorMode: true });
const subscriber = new v1.SubscriberClient(
  (admin as unknown as { options: ConstructorParameters<typeof v1.SubscriberClient>[0] }).options,
);
await admin.createTopic(TOPIC);
await admin.topic(TOPIC).createSubscription(SUB, { ackDeadlineSeconds: 600 });

/** Zero loss: every point id came through the subscription (pulled and acked, so it is empty again). */
async function checkAndReset(side: string, points: readonly DataPoint[]): Promise<void> {
  const want = new Set(points.map((p) => p.id));
  const seen = new Set<string>();
  let empty = 0;
  while (empty < 3 && seen.size < want.size) {
    const [res] = await subscriber.pull({
      subscription: `projects/${PROJECT}/subscriptions/${SUB}`,
      maxMessages: 1000,
    });
    const got = res.receivedMessages ?? [];
    if (!got.length) {
      empty++;
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    empty = 0;
    for (const m of got) if (m.message?.attributes?.id) seen.add(m.message.attributes.id);
    await subscriber.acknowledge({
      subscription: `projects/${PROJECT}/subscriptions/${SUB}`,
      ackIds: got.map((m) => m.ackId!),
    });
  }
  const missing = [...want].filter((id) => !seen.has(id)).length;
  if (missing) throw new Error(`${side}: ${missing} of ${want.size} points not read back`);
}

/** What a user of the client writes: one publishMessage per point, a batch awaited as a whole, `window` batches in flight. */
async function raw(window: number): Promise<number> {
  const points = makePoints(POINTS);
  const pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: fake.emulatorHost, emulatorMode: true });
  const topic = pubsub.topic(TOPIC, publishOptions(false));
  try {
    const rate = await concurrentLoop(chunk(points, BATCH), window, async (batch) => {
      await Promise.all(
        batch.map((p) =>
          topic.publishMessage({
            data: Buffer.from(pointJson(p)),
            attributes: { device_id: p.deviceId, tag_name: p.tagName, quality: p.quality, id: p.id },
          }),
        ),
      );
    });
    await checkAndReset('raw', points);
    return rate;
  } finally {
    await pubsub.close();
  }
}

async function ours(delivery: DeliveryOptionsInput): Promise<number> {
  const points = makePoints(POINTS);
  const rate = await pipelineThroughput({
    definition: gcpPubSub,
    config: gcpPubSubConfigSchema.parse({
      project_id: PROJECT,
      topic: TOPIC,
      emulator: true,
      api_endpoint: fake.emulatorHost,
    }),
    points,
    delivery,
  });
  await checkAndReset('ours', points);
  return rate;
}

try {
  // Warm-up (JIT, channels, SQLite) on both sides, not recorded.
  await raw(2);
  await ours({});
  const cases = await connectorCases({
    ours: 'durable e2e (SQLite queue sync=batch + pipeline + connector, messages: point) on pstest',
    raw: '@google-cloud/pubsub publishMessage per point with the same attributes and batching (1000 messages, 1 ms)',
    batches: [BATCH],
    windows: WINDOWS,
    rounds: ROUNDS,
    runRaw: (_batch, w) => raw(w),
    runOurs: ours,
  });
  writeResults('gcp-pubsub', cases, { points: POINTS });
} finally {
  await subscriber.close();
  await admin.close();
  await fake.dispose();
}
