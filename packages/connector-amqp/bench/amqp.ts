// `pnpm bench amqp`: durable end-to-end throughput (SQLite queue + core pipeline + this connector)
// beside a raw amqplib confirm-channel publish loop doing the same publishes to the same RabbitMQ
// node in the same run; our side with the delivery defaults and tuned, median and range of alternating
// rounds. Every run's messages are counted in a durable queue afterwards: nothing lost.
import { connect, type ConfirmChannel } from 'amqplib';
import type { DataPoint } from '@bifrost/core';
import amqp, { amqpConfigSchema } from '@bifrost/connector-amqp';
import { startRabbitMq } from '@bifrost/connector-testkit/peers';
import {
  chunk,
  concurrentLoop,
  connectorCases,
  makePoints,
  pipelineThroughput,
  writeResults,
  type DeliveryOptionsInput,
} from '@bifrost/connector-testkit/bench';

const POINTS = Number(process.env.BENCH_POINTS ?? 30_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EXCHANGE = 'bench';
const COUNT_QUEUE = 'bench-count';

const peer = await startRabbitMq();
const admin = await connect(peer.url);
const adminChannel = await admin.createChannel();
await adminChannel.assertExchange(EXCHANGE, 'topic', { durable: true });
await adminChannel.assertQueue(COUNT_QUEUE, { durable: true });
await adminChannel.bindQueue(COUNT_QUEUE, EXCHANGE, '#');

/** Messages the broker holds for this run; the queue is emptied before each run. */
async function delivered(): Promise<number> {
  return (await adminChannel.checkQueue(COUNT_QUEUE)).messageCount;
}

/** Publishes one batch on a confirm channel and resolves when the broker confirmed all of it. */
function publishBatch(ch: ConfirmChannel, batch: readonly DataPoint[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let outstanding = batch.length;
    const confirmed = (err: Error | null) => {
      if (err) reject(err);
      else if (--outstanding === 0) resolve();
    };
    let i = 0;
    const pump = () => {
      for (let p = batch[i]; p; p = batch[i]) {
        i++;
        const ok = ch.publish(
          EXCHANGE,
          `${p.deviceId}.${p.tagName}`,
          Buffer.from(JSON.stringify(p)),
          {
            messageId: p.id,
            contentType: 'application/json',
            persistent: true,
            mandatory: true,
            timestamp: Math.floor(p.timestamp / 1000),
            headers: { device_id: p.deviceId, tag_name: p.tagName, quality: p.quality },
          },
          confirmed,
        );
        if (!ok) {
          ch.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** The best raw loop: one confirm channel, `workers` batches published and awaited concurrently. */
async function raw(batchSize: number, workers: number): Promise<number> {
  await adminChannel.purgeQueue(COUNT_QUEUE);
  const conn = await connect(peer.url);
  const ch = await conn.createConfirmChannel();
  try {
    const rate = await concurrentLoop(chunk(makePoints(POINTS), batchSize), workers, (b) => publishBatch(ch, b));
    const n = await delivered();
    if (n !== POINTS) throw new Error(`raw: ${n} of ${POINTS} messages queued`);
    return rate;
  } finally {
    await conn.close();
  }
}

async function e2e(delivery: DeliveryOptionsInput): Promise<number> {
  await adminChannel.purgeQueue(COUNT_QUEUE);
  const rate = await pipelineThroughput({
    definition: amqp,
    config: amqpConfigSchema.parse({ endpoint: peer.url, exchange: EXCHANGE }),
    points: makePoints(POINTS),
    delivery,
  });
  const n = await delivered();
  if (n !== POINTS) throw new Error(`e2e: ${n} of ${POINTS} messages queued`);
  return rate;
}

try {
  const cases = await connectorCases({
    ours: 'durable e2e (SQLite queue sync=batch + pipeline + connector)',
    raw: 'amqplib confirm-channel publish loop; persistent messages, publisher confirms, mandatory',
    batches: (process.env.BENCH_BATCHES ?? '1000,100').split(',').map(Number),
    windows: [1, 4, 8],
    rounds: ROUNDS,
    runRaw: raw,
    runOurs: e2e,
  });
  writeResults('amqp', cases, { points: POINTS });
} finally {
  await admin.close();
  await peer.dispose();
}
