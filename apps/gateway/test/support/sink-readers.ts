// Reads back which point ids reached a sink, each with the sink's own client (no Bifrost code), so
// gateway tests can check delivery through the InfluxDB, TimescaleDB, AMQP, Kafka and HTTP connectors.
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { ID_HEADER } from '@bifrost/connector-kafka';
import type { HttpReceiverPeer, InfluxPeer } from '@bifrost/connector-testkit';
import { waitUntil } from './net.js';

/** The distinct point ids one sink holds so far. */
export interface IdReader {
  readonly sink: string;
  ids(): Promise<ReadonlySet<string>>;
  close(): Promise<void>;
}

/** Rows of `table` (the Timescale connector's `id` column), queried on every call. */
export async function postgresIds(url: string, table: string): Promise<IdReader> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    sink: 'postgres',
    async ids() {
      const res = await client.query<{ id: string }>(`SELECT id FROM ${table}`).catch((e: { code?: string }) => {
        if (e.code === '42P01') return { rows: [] }; // undefined_table: the connector has not connected yet
        throw e;
      });
      return new Set(res.rows.map((r) => r.id));
    },
    close: () => client.end(),
  };
}

/** The `point_id` field of `measurement` (the InfluxDB connector's `include_id`), over HTTP `/query`. */
export function influxIds(peer: InfluxPeer, measurement: string): IdReader {
  return {
    sink: 'influxdb',
    async ids() {
      const rows = await peer.query(`SELECT "point_id" FROM "${measurement}"`);
      return new Set(rows.map((r) => String(r.point_id)));
    },
    close: async () => {},
  };
}

/** Consumes `queue` (acking), collecting each message's `message_id`. */
export async function amqpIds(url: string, queue: string): Promise<IdReader> {
  const conn = await connect(url);
  const ch = await conn.createChannel();
  const seen = new Set<string>();
  await ch.consume(queue, (msg) => {
    if (!msg) return;
    if (typeof msg.properties.messageId === 'string') seen.add(msg.properties.messageId);
    ch.ack(msg);
  });
  return { sink: 'amqp', ids: () => Promise.resolve(seen), close: () => conn.close() };
}

/** Consumes `topic` from the beginning in a fresh group, collecting the point id header of each record. */
export async function kafkaIds(bootstrap: string, topic: string): Promise<IdReader> {
  const consumer = new kafkajs.Kafka({ brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).consumer({
    groupId: `readback-${randomUUID()}`,
  });
  const seen = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const id = message.headers?.[ID_HEADER]?.toString();
      if (id) seen.add(id);
      return Promise.resolve();
    },
  });
  return { sink: 'kafka', ids: () => Promise.resolve(seen), close: () => consumer.disconnect() };
}

/** Polls `reader` up to `timeoutMs` for every id of `expected`; returns the ids it holds at the end. */
export async function readBack(
  reader: IdReader,
  expected: readonly string[],
  timeoutMs: number,
): Promise<ReadonlySet<string>> {
  let got: ReadonlySet<string> = new Set();
  await waitUntil(
    `all ${expected.length} points at ${reader.sink}`,
    async () => {
      got = await reader.ids();
      return expected.every((id) => got.has(id));
    },
    timeoutMs,
  ).catch(() => undefined);
  return got;
}

/** Point ids the testkit's HTTP receiver accepted (2xx, not refused in a partial answer), read from its control endpoint. */
export function httpIds(peer: HttpReceiverPeer): IdReader {
  return {
    sink: 'http',
    async ids() {
      return new Set((await peer.acceptedPoints()).map((p) => String(p.id)));
    },
    close: async () => {},
  };
}
