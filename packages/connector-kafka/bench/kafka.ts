// `pnpm bench kafka`: durable end-to-end throughput (SQLite queue + core pipeline + this connector)
// beside a raw kafkajs send loop doing the same sends (idempotent producer, acks=all, gzip, same
// batch size, key = device id, id header) to the same KRaft broker in the same run. Every run
// writes its own topic, whose record count is checked afterwards: nothing lost.
import kafkajs from 'kafkajs';
import type { DataPoint } from '@bifrost/core';
import kafka, { kafkaConfigSchema } from '@bifrost/connector-kafka';
import { startKafka } from '@bifrost/connector-testkit/peers';
import {
  benchCase,
  chunk,
  concurrentLoop,
  makePoints,
  pipelineThroughput,
  writeResults,
  type BenchCase,
} from '@bifrost/connector-testkit/bench';

const POINTS = Number(process.env.BENCH_POINTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
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

async function e2e(batchSize: number, workers: number): Promise<number> {
  const topic = await freshTopic('e2e');
  const rate = await pipelineThroughput({
    definition: kafka,
    config: kafkaConfigSchema.parse({ endpoint: peer.bootstrap, topic }),
    points: makePoints(POINTS),
    delivery: { batchSize, maxInFlight: workers, flushIntervalMs: 5 },
  });
  const n = await records(topic);
  if (n !== POINTS) throw new Error(`e2e: ${n} of ${POINTS} records in ${topic}`);
  return rate;
}

const cases: BenchCase[] = [];
try {
  for (const batchSize of (process.env.BENCH_BATCHES ?? '1000,5000').split(',').map(Number)) {
    // Both sides get their best in-flight window (ours: that many per-device streams, one batch in
    // flight each). Raw and ours alternate, the same number of runs each, and each keeps its best
    // run (the 2-core machine is shared: the best run is the least disturbed one).
    let rawBest = 0,
      rawOne = 0,
      ours = 0,
      rawWorkers = 1,
      ourWorkers = 1;
    for (let round = 0; round < ROUNDS; round++) {
      for (const w of [1, 2, 4]) {
        const r = await raw(batchSize, w);
        if (r > rawBest) {
          rawBest = r;
          rawWorkers = w;
        }
        if (w === 1) rawOne = Math.max(rawOne, r);
        const o = await e2e(batchSize, w);
        if (o > ours) {
          ours = o;
          ourWorkers = w;
        }
        console.log(
          `batch ${batchSize}, ${w} in flight: raw ${Math.round(r)} points/s, ours ${Math.round(o)} points/s`,
        );
      }
    }
    cases.push(
      benchCase(
        `durable e2e (SQLite queue sync=batch + pipeline + connector, per-device order: ${ourWorkers} device streams), batch ${batchSize}; raw: kafkajs idempotent producer send loop (acks=all, gzip), best window (${rawWorkers} in flight)`,
        ours,
        rawBest,
      ),
    );
    // Concurrent raw sends lose per-device order once one fails; the raw loop that keeps it has one in flight.
    cases.push(benchCase(`same as above; raw with the same per-device order guarantee (1 in flight)`, ours, rawOne));
  }
  writeResults('kafka', cases);
} finally {
  await admin.disconnect();
  await peer.dispose();
}
