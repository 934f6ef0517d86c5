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
 * and waits until its partitions have leaders, so the first send does not meet a leader election.
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
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}
