import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartialWriteError, TransientError, newPointId, type DataPoint, type PluginContext } from '@bifrost/core';
import { createPipeline, openSqliteQueue } from '@bifrost/core/host';
import kafka, { ID_HEADER, kafkaConfigSchema } from '../src/index.js';
import {
  createKafkaTopic,
  createTlsFixture,
  kafkaInstallation,
  requirePeer,
  showPeerLogsOnFailure,
  silentLogger,
  startKafka,
  type KafkaPeer,
  type TlsFixture,
  noCancel,
} from '@bifrost/connector-testkit';

const kafkaPeer = requirePeer('kafka', kafkaInstallation);

const ctx = (tls?: PluginContext['tls']): PluginContext => ({
  name: 'it',
  logger: silentLogger,
  signal: new AbortController().signal,
  ...(tls && { tls }),
});
let seq = 0;
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: newPointId(),
  deviceId: `PLC${seq % 4}`,
  tagName: 'temperature',
  value: 20 + ++seq,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + seq,
  ...over,
});

interface ReadRecord {
  key: string;
  id: string;
  point: DataPoint;
  partition: number;
  offset: number;
}

/**
 * Reads `topic` from the beginning until `count` records arrived (or the time runs out). A record
 * the consumer sees twice (same partition and offset, after a rebalance) is counted once.
 */
async function readTopic(bootstrap: string, topic: string, count: number, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const client = new kafkajs.Kafka({ brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const consumer = client.consumer({ groupId: `readback-${newPointId()}` });
  const out = new Map<string, ReadRecord>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: ({ message, partition }) => {
          out.set(`${partition}/${message.offset}`, {
            key: message.key?.toString() ?? '',
            id: message.headers?.[ID_HEADER]?.toString() ?? '',
            point: JSON.parse(message.value!.toString()) as DataPoint,
            partition,
            offset: Number(message.offset),
          });
          if (out.size >= count) {
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
  return [...out.values()];
}

describe.skipIf(!kafkaPeer.available)('Kafka connector against a real KRaft broker', () => {
  let peer: KafkaPeer;
  showPeerLogsOnFailure(() => [peer]);
  const connector = (extra: Record<string, unknown> = {}) =>
    kafka.create(kafkaConfigSchema.parse({ endpoint: peer.bootstrap, ...extra }), ctx());

  beforeAll(async () => {
    peer = await startKafka();
  });
  afterAll(async () => {
    await peer?.dispose();
  });

  it('delivers a batch that reads back by id with equal values, keyed and ordered per device', async () => {
    const topic = `it.${seq}.batch`;
    const c = connector({ topic });
    await c.connect();
    const batch = Array.from({ length: 1000 }, () => point());
    await c.write(batch.slice(0, 500), noCancel());
    await c.write(batch.slice(500), noCancel());
    const got = await readTopic(peer.bootstrap, topic, batch.length);
    expect(got).toHaveLength(batch.length);
    const byId = new Map(got.map((r) => [r.id, r]));
    for (const p of batch) {
      const r = byId.get(p.id);
      expect(r?.point).toEqual(p);
      expect(r?.key).toBe(p.deviceId);
    }
    for (const device of ['PLC0', 'PLC1', 'PLC2', 'PLC3']) {
      const mine = got.filter((r) => r.key === device);
      expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
      const sent = batch.filter((p) => p.deviceId === device).map((p) => p.id);
      expect(mine.sort((a, b) => a.offset - b.offset).map((r) => r.id)).toEqual(sent);
    }
    await c.close();
  });

  it('keeps each device in order through the pipeline with 4 device streams while the broker restarts', async () => {
    const topic = `it.${seq}.streams`;
    await createKafkaTopic(peer.bootstrap, topic);
    const dir = mkdtempSync(join(tmpdir(), 'bifrost-kafka-streams-'));
    const queue = await openSqliteQueue(join(dir, 'queue.db'));
    const pipeline = createPipeline({
      queue,
      logger: silentLogger,
      connectors: [
        {
          name: 'k',
          definition: kafka,
          config: kafkaConfigSchema.parse({ endpoint: peer.bootstrap, topic }),
          delivery: {
            batchSize: 50,
            maxInFlight: 4,
            flushIntervalMs: 5,
            timeoutMs: 5_000,
            retry: { initialDelayMs: 50, maxDelayMs: 500 },
          },
        },
      ],
    });
    // Current timestamps: the broker's 7-day time retention deletes older records when it restarts.
    const now = Date.now();
    const points = Array.from({ length: 4_000 }, (_, i) => point({ deviceId: `dev-${i % 12}`, timestamp: now + i }));
    try {
      pipeline.start();
      for (let i = 0; i < points.length; i += 100) {
        await pipeline.ingest(points.slice(i, i + 100));
        if (i === 1_000) await peer.restart();
        await new Promise((r) => setTimeout(r, 10));
      }
      await vi.waitFor(() => expect(queue.stats('k').points).toBe(0), { timeout: 60_000, interval: 50 });
      expect(await queue.listDeadLetters()).toEqual([]);
      const admin = new kafkajs.Kafka({ brokers: [peer.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      const records = (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
      await admin.disconnect();
      expect(records).toBeGreaterThanOrEqual(points.length);
      const got = await readTopic(peer.bootstrap, topic, records);
      // At-least-once: a batch resent after the restart may repeat records; the first copy of each
      // point, in partition order, must follow the device's send order.
      for (let d = 0; d < 12; d++) {
        const device = `dev-${d}`;
        const firsts: string[] = [];
        const seen = new Set<string>();
        for (const r of got.filter((x) => x.key === device).sort((a, b) => a.offset - b.offset)) {
          if (!seen.has(r.id)) {
            seen.add(r.id);
            firsts.push(r.id);
          }
        }
        expect(firsts).toEqual(points.filter((p) => p.deviceId === device).map((p) => p.id));
      }
    } finally {
      await pipeline.stop({ deadlineMs: 5_000 });
      await queue.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('compresses with snappy when its codec package is installed', async () => {
    const topic = `it.${seq}.snappy`;
    const c = connector({ topic, compression: 'snappy' });
    await c.connect();
    const batch = Array.from({ length: 100 }, () => point());
    await c.write(batch, noCancel());
    const got = await readTopic(peer.bootstrap, topic, batch.length);
    expect(new Set(got.map((r) => r.id))).toEqual(new Set(batch.map((p) => p.id)));
    await c.close();
  });

  it('renders the topic template per point', async () => {
    const c = connector({ topic: '{topic_prefix}{tags.site}.{device_id}.{tag_name}', topic_prefix: `it${seq}.` });
    await c.connect();
    const p = point({ deviceId: 'line-7', tagName: 'speed', tags: { site: 'oslo' } });
    await c.write([p], noCancel());
    const [r] = await readTopic(peer.bootstrap, `it${seq - 1}.oslo.line-7.speed`, 1);
    expect(r?.id).toBe(p.id);
    await c.close();
  });

  it('dead-letters only the records the broker refuses and delivers the rest', async () => {
    const topic = `it.${seq}.poison`;
    await createKafkaTopic(peer.bootstrap, topic, { partitions: 1, config: { 'max.message.bytes': '4096' } });
    const c = connector({ topic, compression: 'none' });
    await c.connect();
    const good = [point(), point(), point()] as const;
    const big = point({ value: 'x'.repeat(6000) });
    const err = await c.write([good[0], big, good[1], good[2]], noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).rejected).toEqual([
      expect.objectContaining({ id: big.id, reason: expect.stringMatching(/large/i) as unknown }),
    ]);
    expect(new Set((err as PartialWriteError).accepted)).toEqual(new Set(good.map((p) => p.id)));
    // The refused request is resent one record at a time, so written records may repeat: compare ids.
    const got = await readTopic(peer.bootstrap, topic, 3, 5_000);
    expect(new Set(got.map((r) => r.id))).toEqual(new Set(good.map((p) => p.id)));
    await c.close();
  });

  it('fails writes while the broker is down and delivers after it is back, losing nothing', async () => {
    const topic = `it.${seq}.restart`;
    const c = connector({ topic, request_timeout_ms: 3000, connection_timeout_ms: 1000 });
    await c.connect();
    const before = [point(), point()];
    await c.write(before, noCancel());
    await peer.stop();
    const during = [point(), point()];
    const err = await c.write(during, noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    await peer.start();
    // The host reconnects after a failure and resends the batch.
    await c.connect();
    await c.write(during, noCancel());
    const got = await readTopic(peer.bootstrap, topic, 4);
    expect(new Set(got.map((r) => r.id))).toEqual(new Set([...before, ...during].map((p) => p.id)));
    await c.close();
  });
});

describe.skipIf(!kafkaPeer.available)('Kafka connector over SASL_SSL', () => {
  let peer: KafkaPeer;
  let tls: TlsFixture;
  showPeerLogsOnFailure(() => [peer]);
  beforeAll(async () => {
    tls = createTlsFixture();
    peer = await startKafka({ tls: tls.serverTls() });
  });
  afterAll(async () => {
    await peer?.dispose();
    tls?.dispose();
  });

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`authenticates with SASL ${mechanism} over TLS and delivers`, async () => {
      const topic = `it.sasl.${mechanism}`;
      // Created up front: this test is about authentication, and the first auto-creation on a fresh
      // broker can outlast the connector's short metadata retries (the host would retry the write).
      await createKafkaTopic(peer.bootstrap, topic);
      const [user] = peer.users;
      if (!user) throw new Error('the broker peer has no SASL user');
      const { username, password } = user;
      const config = kafkaConfigSchema.parse({
        endpoint: peer.saslSslBootstrap,
        topic,
        sasl_mechanism: mechanism,
        username,
        password,
      });
      const c = kafka.create(config, ctx(tls.clientTls('tls')));
      await c.connect();
      const p = point();
      await c.write([p], noCancel());
      const [r] = await readTopic(peer.bootstrap, topic, 1);
      expect(r?.point).toEqual(p);
      await c.close();
      const wrong = kafka.create(
        kafkaConfigSchema.parse({ ...config, password: `${password}x` }),
        ctx(tls.clientTls('tls')),
      );
      await expect(wrong.connect()).rejects.toMatchObject({ kind: 'auth' });
    });
  }
});
