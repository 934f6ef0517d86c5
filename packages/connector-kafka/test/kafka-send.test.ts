import { noCancel } from '@bifrost/connector-testkit';
import { PartialWriteError, TransientError, type DataPoint, type PluginContext } from '@bifrost/core';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';

/** A stand-in kafkajs: records every sendBatch; `fail` decides which calls throw what. */
const sent: Array<{ ids: string[] }> = [];
let fail: (call: number, ids: string[]) => Error | undefined = () => undefined;
let producers = 0;
let disconnects = 0;
/** When set, sendBatch waits for this before answering (a hanging broker). */
let hold: Promise<void> | undefined;
vi.mock('kafkajs', () => {
  class Kafka {
    producer() {
      producers++;
      return {
        connect: async () => undefined,
        disconnect: async () => {
          disconnects++;
        },
        sendBatch: async ({
          topicMessages,
        }: {
          topicMessages: Array<{ messages: Array<{ headers: { 'bifrost-id': string } }> }>;
        }) => {
          const ids = topicMessages.flatMap((t) => t.messages.map((m) => m.headers['bifrost-id']));
          const err = fail(sent.length, ids);
          sent.push({ ids });
          if (hold) await hold;
          if (err) throw err;
          return [];
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
    disconnects = 0;
    hold = undefined;
  });

  it('sends the host batch as one request (the host cut it to maxBatchBytes = max_message_bytes)', async () => {
    const c = await connector();
    expect(c.maxBatchBytes).toBe(perRecord * 4 + 2);
    await c.write(batch, noCancel());
    expect(sent.map((s) => s.ids)).toEqual([batch.map((p) => p.id)]);
  });

  it('dead-letters a single record over max_message_bytes instead of retrying it', async () => {
    const c = await connector();
    const big = { ...point(99), value: 'x'.repeat(perRecord * 5) };
    await expect(c.write([big], noCancel())).rejects.toMatchObject({
      kind: 'payload',
      message: expect.stringMatching(/exceeds max_message_bytes/) as unknown,
    });
    expect(sent).toHaveLength(0);
  });

  it('resends a retriable failure once, whole, on a fresh producer, then fails the write', async () => {
    const c = await connector();
    fail = () => retriable();
    await expect(c.write(batch, noCancel())).rejects.toBeInstanceOf(TransientError);
    const ids = batch.map((p) => p.id);
    expect(sent.map((s) => s.ids)).toEqual([ids, ids]);
    fail = () => undefined;
    await c.write(batch, noCancel());
    expect(producers, 'one per failed send, and the first').toBe(3);
  });

  it('a retriable failure that clears on the resend makes the write succeed', async () => {
    const c = await connector();
    fail = (call) => (call === 0 ? retriable() : undefined);
    await c.write(batch, noCancel());
    expect(sent).toHaveLength(2);
    expect(producers).toBe(2);
  });

  it('throws at once, sending nothing, when the signal is already aborted', async () => {
    const c = await connector();
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(c.write(batch, { signal: ac.signal })).rejects.toBeInstanceOf(TransientError);
    expect(sent).toHaveLength(0);
  });

  it('an aborted write rejects promptly, disconnects the producer and takes no late ack', async () => {
    const c = await connector();
    let answer!: () => void;
    hold = new Promise((r) => (answer = r));
    const ac = new AbortController();
    const w = c.write(batch, { signal: ac.signal });
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    ac.abort(new Error('timeout'));
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('BIFROST_ERR_KAFKA_WRITE_CANCELLED');
    expect(disconnects).toBe(1);
    // The broker's late answer is not taken: the connector needs a fresh producer first.
    answer();
    hold = undefined;
    await expect(c.healthCheck!()).resolves.toMatchObject({ ok: false });
    await expect(c.write(batch, noCancel())).rejects.toBeInstanceOf(TransientError);
    await c.connect();
    await c.write(batch, noCancel());
    expect(producers).toBe(2);
  });

  it('throws a transient error when nothing was acknowledged', async () => {
    const c = await connector();
    fail = () => retriable();
    await expect(c.write(batch, noCancel())).rejects.toBeInstanceOf(TransientError);
  });

  it('finds refused records by sending the refused request one record at a time', async () => {
    const c = await connector();
    // Not a split by size: one request, then one per record only to isolate the poison.
    fail = (_, ids) => (ids.includes('p5') ? tooLarge() : undefined);
    const err = await c.write(batch, noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).rejected).toEqual([
      expect.objectContaining({ id: 'p5', reason: expect.stringMatching(/too large/) as unknown }),
    ]);
    expect((err as PartialWriteError).accepted).toEqual(batch.filter((p) => p.id !== 'p5').map((p) => p.id));
  });
});
