import type kafkajsModule from 'kafkajs';

type KafkaJs = typeof kafkajsModule;

/**
 * kafkajs, loaded when a Kafka helper first runs: it is an optional peer dependency of the testkit,
 * so authors of other connectors do not install it.
 */
async function loadKafkajs(): Promise<KafkaJs> {
  try {
    return ((await import('kafkajs')) as { default: KafkaJs }).default;
  } catch (err) {
    throw new Error(
      `createKafkaTopic needs kafkajs, an optional peer dependency of @bifrost/connector-testkit: npm i -D kafkajs (${(err as Error).message})`,
    );
  }
}

/**
 * Creates `topic` on the broker at `bootstrap` (PLAINTEXT listeners, e.g. `KafkaPeer.bootstrap` or a
 * cluster's comma-separated `KafkaCluster.bootstrap`)
 * and waits until every partition has a leader and all its replicas in sync, so the first send does
 * not meet a leader election (and a test that kills a replica starts from a full ISR).
 *
 * @example
 * await createKafkaTopic(peer.bootstrap, 'plant.readings', { partitions: 3 });
 */
export async function createKafkaTopic(
  bootstrap: string,
  topic: string,
  opts: { partitions?: number; replicationFactor?: number; config?: Readonly<Record<string, string>> } = {},
): Promise<void> {
  const kafkajs = await loadKafkajs();
  const admin = new kafkajs.Kafka({ brokers: bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        {
          topic,
          ...(opts.partitions !== undefined && { numPartitions: opts.partitions }),
          ...(opts.replicationFactor !== undefined && { replicationFactor: opts.replicationFactor }),
          ...(opts.config && { configEntries: Object.entries(opts.config).map(([name, value]) => ({ name, value })) }),
        },
      ],
      waitForLeaders: false,
    });
  } finally {
    await admin.disconnect();
  }
  await waitForFullReplicas(kafkajs, bootstrap, topic);
}

/**
 * Asks each broker of `bootstrap` in turn (a client seeded with that broker alone) for the topic's
 * metadata until every partition has a leader and a full ISR: on a cluster each broker learns of a
 * new topic at its own pace, and kafkajs' `waitForLeaders` fails on the "unknown topic" of a
 * broker that has not yet.
 */
async function waitForFullReplicas(kafkajs: KafkaJs, bootstrap: string, topic: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const broker of bootstrap.split(',')) {
    const admin = new kafkajs.Kafka({ brokers: [broker], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      let last = 'no metadata yet';
      for (;;) {
        try {
          const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
          const partitions = meta?.partitions ?? [];
          if (partitions.length > 0 && partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length))
            break;
          last = JSON.stringify(partitions.map((p) => ({ partition: p.partitionId, leader: p.leader, isr: p.isr })));
        } catch (err) {
          last = (err as Error).message;
        }
        if (Date.now() > deadline)
          throw new Error(`[testkit] kafka topic ${topic} at ${broker}: no leader or full ISR after 30 s: ${last}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await admin.disconnect();
    }
  }
}
