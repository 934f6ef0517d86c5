import { noCancel } from '@bifrost/connector-testkit';
import { PartialWriteError, TransientError, type DataPoint, type PluginContext } from '@bifrost/core';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';

/** A stand-in kafkajs: records every sendBatch; `fail` decides which calls throw what. */
const sent: Array<{ ids: string[] }> = [];
let fail: (call: number, ids: string[]) => Error | undefined = () => undefined;
let producers = 0;
vi.mock('kafkajs', () => {
  class Kafka {
    producer() {
      producers++;
      return {
        connect: () => Promise.resolve(),
        disconnect: () => Promise.resolve(),
        sendBatch: ({
          topicMessages,
        }: {
          topicMessages: Array<{ messages: Array<{ headers: { 'bifrost-id': string } }> }>;
        }) => {
          const ids = topicMessages.flatMap((t) => t.messages.map((m) => m.headers['bifrost-id']));
          const err = fail(sent.length, ids);
          sent.push({ ids });
          return err ? Promise.reject(err) : Promise.resolve([]);
        },
      };
    }
  }
  const kafkajs = {
    Kafka,
    Partitioners: { DefaultPartitioner: () => () => 0 },
    CompressionTypes: { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 },
    CompressionCodecs: {},
    logLevel: { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 },
  };
  return { default: kafkajs, ...kafkajs };
});

const { default: kafka, kafkaConfigSchema, recordBytes, toRecord } = await import('../src/index.js');

const ctx: PluginContext = { name: 'unit', logger: silentLogger, signal: new AbortController().signal };
const point = (i: number): DataPoint => ({
  id: `p${i}`,
  deviceId: `PLC${i % 3}`,
  tagName: 't',
  value: i,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
});
const retriable = () =>
  Object.assign(new Error('leader not available'), {
    name: 'KafkaJSProtocolError',
    type: 'LEADER_NOT_AVAILABLE',
    retriable: true,
  });
const tooLarge = () =>
  Object.assign(new Error('message too large'), {
    name: 'KafkaJSProtocolError',
    type: 'MESSAGE_TOO_LARGE',
    retriable: false,
  });

describe('KafkaConnector sending (fake kafkajs)', () => {
  const batch = Array.from({ length: 10 }, (_, i) => point(i));
  const perRecord = recordBytes(toRecord(point(0)));
  const connector = async () => {
    // Room for 4 records per request.
    const c = kafka.create(kafkaConfigSchema.parse({ endpoint: 'h:9092', max_message_bytes: perRecord * 4 + 2 }), ctx);
    await c.connect();
    return c;
  };
  beforeEach(() => {
    sent.length = 0;
    fail = () => undefined;
    producers = 0;
  });

  it('splits a batch into requests under max_message_bytes, in order', async () => {
    const c = await connector();
    await c.write(batch, noCancel());
    expect(sent.map((s) => s.ids.length)).toEqual([4, 4, 2]);
    expect(sent.flatMap((s) => s.ids)).toEqual(batch.map((p) => p.id));
  });

  it('reports acknowledged requests as delivered when a later one fails, and replaces the producer', async () => {
    const c = await connector();
    fail = (call) => (call === 1 ? retriable() : undefined);
    const err = await c.write(batch, noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).accepted).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect((err as PartialWriteError).rejected.map((r) => [r.id, r.kind])).toEqual(
      ['p4', 'p5', 'p6', 'p7', 'p8', 'p9'].map((id) => [id, 'transient']),
    );
    fail = () => undefined;
    await c.write(batch.slice(4), noCancel());
    expect(producers).toBe(2);
  });

  it('throws a transient error when nothing was acknowledged', async () => {
    const c = await connector();
    fail = () => retriable();
    await expect(c.write(batch, noCancel())).rejects.toBeInstanceOf(TransientError);
  });

  it('finds refused records by sending the refused request one record at a time', async () => {
    const c = await connector();
    fail = (_, ids) => (ids.includes('p5') ? tooLarge() : undefined);
    const err = await c.write(batch, noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).rejected).toEqual([
      expect.objectContaining({ id: 'p5', reason: expect.stringMatching(/too large/) as unknown }),
    ]);
    expect((err as PartialWriteError).accepted).toEqual(batch.filter((p) => p.id !== 'p5').map((p) => p.id));
  });
});
