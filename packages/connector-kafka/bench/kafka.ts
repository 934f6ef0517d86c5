// `pnpm bench kafka`: durable end-to-end throughput (SQLite queue + core pipeline + this connector)
// beside a raw kafkajs send loop doing the same sends (idempotent producer, acks=all, gzip, same
// batch size, key = device id, id header) to the same KRaft broker in the same run. Every run
// writes its own topic, whose record count is checked afterwards: nothing lost.
import kafkajs from 'kafkajs';
import type { DataPoint } from '@bifrost/core';
import kafka, { kafkaConfigSchema } from '@bifrost/connector-kafka';
import { startKafka } from '@bifrost/connector-testkit/peers';
import {
  chunk,
  concurrentLoop,
  connectorCases,
  makePoints,
  pipelineThroughput,
  writeResults,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';

const POINTS = Number(process.env.BENCH_POINTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;

const peer = await startKafka();
const client = new Kafka({ brokers: [peer.bootstrap], logLevel: logLevel.NOTHING });
const admin = client.admin();
await admin.connect();
let runs = 0;

/** A fresh topic per run (3 partitions), so its record count proves the run delivered everything. */
async function freshTopic(label: string): Promise<string> {
  const topic = `bench.${label}.${++runs}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  return topic;
}

async function records(topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
}

/** The best raw loop: one idempotent producer, `workers` sends of one batch each in flight. */
async function raw(batchSize: number, workers: number): Promise<number> {
  const topic = await freshTopic('raw');
  const producer = client.producer({
    idempotent: true,
    maxInFlightRequests: 5,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const rate = await concurrentLoop(chunk(makePoints(POINTS), batchSize), workers, async (batch: DataPoint[]) => {
      await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: batch.map((p) => ({
          key: p.deviceId,
          value: JSON.stringify(p),
          timestamp: String(p.timestamp),
          headers: { 'bifrost-id': p.id },
        })),
      });
    });
    const n = await records(topic);
    if (n !== POINTS) throw new Error(`raw: ${n} of ${POINTS} records in ${topic}`);
    return rate;
  } finally {
    await producer.disconnect();
  }
}

async function e2e(delivery: DeliveryOptionsInput): Promise<number> {
  const topic = await freshTopic('e2e');
  const rate = await pipelineThroughput({
    definition: kafka,
    config: kafkaConfigSchema.parse({ endpoint: peer.bootstrap, topic }),
    points: makePoints(POINTS),
    delivery,
  });
  const n = await records(topic);
  if (n !== POINTS) throw new Error(`e2e: ${n} of ${POINTS} records in ${topic}`);
  return rate;
}

try {
  const cases = await connectorCases({
    ours: 'durable e2e (SQLite queue sync=batch + pipeline + connector, per-device order: in flight = device streams)',
    raw: 'kafkajs idempotent producer send loop (acks=all, gzip)',
    batches: (process.env.BENCH_BATCHES ?? '1000,5000').split(',').map(Number),
    windows: [1, 2, 4],
    rounds: ROUNDS,
    runRaw: raw,
    runOurs: e2e,
  });
  writeResults('kafka', cases, { points: POINTS });
} finally {
  await admin.disconnect();
  await peer.dispose();
}
