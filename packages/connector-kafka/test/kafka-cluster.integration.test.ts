// The Kafka connector through the core pipeline against a 3-node KRaft cluster: a topic with three
// replicas and `min.insync.replicas=2`, the producer on `acks=all`; the leader of partition 0 is
// SIGKILLed mid-stream. Every point the pipeline accepted must be in the topic, counted by an
// independent kafkajs consumer; the copies it reads twice are reported.
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPointId, type DataPoint } from '@bifrost/core';
import { createPipeline, openSqliteQueue } from '@bifrost/core/host';
import kafka, { ID_HEADER, kafkaConfigSchema } from '../src/index.js';
import {
  createKafkaTopic,
  kafkaInstallation,
  recordProof,
  requirePeer,
  showPeerLogsOnFailure,
  silentLogger,
  startKafkaCluster,
  type KafkaCluster,
} from '@bifrost/connector-testkit';

const kafkaPeer = requirePeer('kafka', kafkaInstallation);
const TOPIC = 'cluster.readings';
const TOTAL = 30_000;
const CHUNK = 100;
const RATE_PER_S = 1_500;
const KILL_AT_MS = 7_000;
const BATCH_SIZE = 200;
const MAX_IN_FLIGHT = 4;
/** Points the one fault can cause to be sent again: every batch in flight when it struck. */
const IN_FLIGHT_WINDOW = BATCH_SIZE * MAX_IN_FLIGHT;

describe.skipIf(!kafkaPeer.available)('Kafka connector against a 3-node KRaft cluster', () => {
  let cluster: KafkaCluster | undefined;
  showPeerLogsOnFailure(() => cluster?.nodes ?? []);

  beforeAll(async () => {
    cluster = await startKafkaCluster({ size: 3, heap: '256m' });
    await createKafkaTopic(cluster.bootstrap, TOPIC, {
      partitions: 3,
      replicationFactor: 3,
      config: { 'min.insync.replicas': '2' },
    });
  }, 120_000);
  afterAll(async () => {
    await cluster?.dispose();
  }, 60_000);

  it('loses nothing when the partition leader is SIGKILLed mid-stream under acks=all and min.insync.replicas=2', async () => {
    const nodes = cluster!;
    const admin = new kafkajs.Kafka({
      brokers: nodes.bootstrap.split(','),
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const [meta] = (await admin.fetchTopicMetadata({ topics: [TOPIC] })).topics;
    const partition0 = meta?.partitions.find((p) => p.partitionId === 0);
    if (!partition0) throw new Error(`no partition 0 in the metadata of ${TOPIC}`);
    expect(partition0.replicas).toHaveLength(3);
    const leader = nodes.node(partition0.leader);
    const ledByLeader = meta!.partitions.filter((p) => p.leader === partition0.leader).map((p) => p.partitionId);

    const dir = mkdtempSync(join(tmpdir(), 'bifrost-kafka-cluster-'));
    const queue = await openSqliteQueue(join(dir, 'queue.db'));
    const pipeline = createPipeline({
      queue,
      logger: silentLogger,
      connectors: [
        {
          name: 'k',
          definition: kafka,
          config: kafkaConfigSchema.parse({ endpoint: nodes.bootstrap, topic: TOPIC, request_timeout_ms: 5_000 }),
          delivery: {
            batchSize: BATCH_SIZE,
            maxInFlight: MAX_IN_FLIGHT,
            flushIntervalMs: 5,
            timeoutMs: 10_000,
            retry: { initialDelayMs: 100, maxDelayMs: 1_000 },
          },
        },
      ],
    });
    const accepted: string[] = [];
    const start = Date.now();
    let killedAt = 0;
    let totals = { failed: 0, retries: 0 };
    try {
      pipeline.start();
      const now = Date.now();
      for (let i = 0; i < TOTAL; i += CHUNK) {
        await sleepUntil(start + (i / RATE_PER_S) * 1000);
        if (!killedAt && Date.now() - start >= KILL_AT_MS) {
          process.kill(leader.pid!, 'SIGKILL');
          killedAt = Date.now() - start;
        }
        // Current timestamps: the broker's time retention would delete older records.
        const points: DataPoint[] = Array.from({ length: CHUNK }, (_, j) => ({
          id: newPointId(),
          deviceId: `dev-${(i + j) % 24}`,
          tagName: 'seq',
          value: i + j,
          quality: 'GOOD',
          timestamp: now + i + j,
        }));
        await pipeline.ingest(points);
        accepted.push(...points.map((p) => p.id));
      }
      await vi.waitFor(() => expect(queue.stats('k').points).toBe(0), { timeout: 90_000, interval: 100 });
      expect(await queue.listDeadLetters()).toEqual([]);
      const [k] = pipeline.metricsSnapshot().connectors;
      totals = { failed: k?.failed ?? 0, retries: k?.retries ?? 0 };
    } finally {
      await pipeline.stop({ deadlineMs: 5_000 });
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(leader.running).toBe(false);

    const records = (await admin.fetchTopicOffsets(TOPIC)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    const [after] = (await admin.fetchTopicMetadata({ topics: [TOPIC] })).topics;
    await admin.disconnect();
    const counts = await countIds(nodes.bootstrap, TOPIC, records, 60_000);
    const missing = accepted.filter((id) => !counts.has(id));
    const duplicates = [...counts.values()].reduce((a, n) => a + n - 1, 0);
    const seconds = Math.round((Date.now() - start) / 1000);
    console.log(
      `[kafka-cluster] ${accepted.length} points accepted; node ${partition0.leader} (leader of partitions ${ledByLeader.join(', ')}) ` +
        `SIGKILLed at ${(killedAt / 1000).toFixed(1)} s; leaders after: ${after?.partitions.map((p) => `${p.partitionId}->${p.leader}`).join(', ')}; ` +
        `${records} records, ${counts.size} distinct ids, missing ${missing.length}, duplicates ${duplicates}; ` +
        `failed write attempts ${totals.failed} points, retries ${totals.retries}`,
    );
    recordProof({
      scenario: 'kafka-cluster-leader-kill',
      points: accepted.length,
      faults: `SIGKILL of the partition leader (3 nodes, RF 3, min.insync.replicas=2, acks=all)`,
      lost: missing.length,
      duplicates,
      seconds,
    });
    expect(after?.partitions.every((p) => p.leader !== partition0.leader)).toBe(true);
    expect(missing).toEqual([]);
    expect(duplicates).toBeLessThanOrEqual(IN_FLIGHT_WINDOW);
  }, 180_000);
});

/**
 * Reads `topic` from the beginning in a fresh consumer group until `records` records arrived (or
 * the time runs out): how often each point id (the `bifrost-id` header) was read. A record seen twice
 * at the same partition and offset (after a rebalance) counts once.
 */
async function countIds(
  bootstrap: string,
  topic: string,
  records: number,
  timeoutMs: number,
): Promise<Map<string, number>> {
  const consumer = new kafkajs.Kafka({ brokers: bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING }).consumer({
    groupId: `readback-${newPointId()}`,
  });
  const byOffset = new Map<string, string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: ({ message, partition }) => {
          byOffset.set(`${partition}/${message.offset}`, message.headers?.[ID_HEADER]?.toString() ?? '');
          if (byOffset.size >= records) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  const counts = new Map<string, number>();
  for (const id of byOffset.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
