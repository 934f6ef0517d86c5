import kafkajs, {
  type KafkaConfig as KafkaJsConfig,
  type Message,
  type Producer,
  type SASLOptions,
  type TopicMessages,
} from 'kafkajs';
import {
  PartialWriteError,
  PayloadError,
  TransientError,
  type BifrostError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type RejectedPoint,
} from '@bifrost/core';
import { compressionType, ensureCodec } from './codecs.js';
import { bootstrapBrokers, type KafkaConfig } from './config.js';
import { classifyKafkaError } from './kafka-errors.js';
import { kafkaLogCreator } from './log.js';
import { compileTopic, topicNameProblem } from './topic.js';

const { Kafka, Partitioners } = kafkajs;

/** Header carrying the point id, so consumers can drop redeliveries. */
export const ID_HEADER = 'bifrost-id';

/**
 * kafkajs's own retries stay short: connecting and metadata may ride out a leader election or a
 * topic being auto-created; a failed produce is retried once (the idempotent producer needs at
 * least one retry), then reported, so the host's backoff and breaker see every outage.
 */
const CLIENT_RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 };
const PRODUCE_RETRY = { retries: 1, initialRetryTime: 100, maxRetryTime: 1_000 };

/** A point ready to send: its topic, record and approximate size in a record batch. */
interface SendItem {
  point: DataPoint;
  topic: string;
  record: Message;
  bytes: number;
}

/** Per-record framing in a v2 record batch (length, attributes, deltas, header key), rounded up. */
const RECORD_OVERHEAD_BYTES = 64;

/** Approximate bytes of one of our records inside an uncompressed record batch. */
export function recordBytes(record: Message): number {
  const id = record.headers?.[ID_HEADER] as string;
  return (
    Buffer.byteLength(record.value as string) +
    Buffer.byteLength(record.key as string) +
    ID_HEADER.length +
    id.length +
    RECORD_OVERHEAD_BYTES
  );
}

/**
 * Splits items into requests of at most `maxBytes` (uncompressed), so no partition's record batch
 * can exceed the broker's `message.max.bytes` and be refused whole.
 */
export function chunkBySize<T extends { bytes: number }>(items: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    if (current.length && size + item.bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.bytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** One point as a Kafka record: key = device id (partition and order per device), value = the point as JSON. */
export function toRecord(point: DataPoint): Message {
  return {
    key: point.deviceId,
    value: JSON.stringify(point),
    timestamp: String(point.timestamp),
    headers: { [ID_HEADER]: point.id },
  };
}

/** kafkajs client settings from the connector config and the host's TLS material. */
export function clientConfig(config: KafkaConfig, ctx: PluginContext): KafkaJsConfig {
  const tls = ctx.tls;
  return {
    clientId: config.client_id,
    brokers: bootstrapBrokers(config),
    connectionTimeout: config.connection_timeout_ms,
    requestTimeout: config.request_timeout_ms,
    retry: CLIENT_RETRY,
    logCreator: kafkaLogCreator(ctx.logger),
    ...(tls && {
      ssl: {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        passphrase: tls.passphrase,
        servername: tls.servername,
        rejectUnauthorized: tls.rejectUnauthorized,
      },
    }),
    ...(config.sasl_mechanism !== 'none' && {
      sasl: {
        mechanism: config.sasl_mechanism,
        username: config.username ?? '',
        password: config.password ?? '',
      } as SASLOptions,
    }),
  };
}

/**
 * Sends each batch with an idempotent producer (`acks: all`) and resolves only when every
 * partition leader and its in-sync replicas have the records. After a failed send the producer is
 * replaced (fresh producer id), so records of a later batch can never be mistaken by the broker for
 * duplicates of an unacknowledged one.
 */
export class KafkaConnector implements Connector {
  private producer: Producer | undefined;
  /** Set when the producer must be rebuilt before the next send. */
  private stale = true;
  private replacing: Promise<void> | undefined;
  private readonly topicOf: (p: DataPoint) => string;
  private readonly label: string;

  constructor(
    private readonly config: KafkaConfig,
    private readonly ctx: PluginContext,
  ) {
    this.label = `kafka:${ctx.name}`;
    this.topicOf = compileTopic(config.topic, config.topic_prefix);
  }

  async connect(): Promise<void> {
    await this.close();
    try {
      await ensureCodec(this.config.compression);
      const producer = new Kafka(clientConfig(this.config, this.ctx)).producer({
        idempotent: true,
        maxInFlightRequests: this.config.max_in_flight_requests,
        allowAutoTopicCreation: this.config.allow_auto_topic_creation,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: PRODUCE_RETRY,
      });
      this.producer = producer;
      await producer.connect();
      this.stale = false;
    } catch (err) {
      await this.close();
      throw this.classify(err);
    }
  }

  async write(batch: readonly DataPoint[]): Promise<void> {
    const rejected: RejectedPoint[] = [];
    const sendable: SendItem[] = [];
    for (const point of batch) {
      const topic = this.topicOf(point);
      const record = toRecord(point);
      const bytes = recordBytes(record);
      const problem = topicNameProblem(topic) ?? this.sizeProblem(bytes);
      if (problem) rejected.push({ id: point.id, reason: problem });
      else sendable.push({ point, topic, record, bytes });
    }
    let sent = 0;
    for (const chunk of chunkBySize(sendable, this.config.max_message_bytes)) {
      try {
        rejected.push(...(await this.send(chunk)));
      } catch (err) {
        const e = this.classify(err);
        if (sent === 0 || (e.kind !== 'transient' && e.kind !== 'capacity')) throw e;
        // Earlier requests were acknowledged: report them, and hand the rest back for a retry.
        for (const item of sendable.slice(sent))
          rejected.push({ id: item.point.id, reason: e.message, kind: 'transient' });
        break;
      }
      sent += chunk.length;
    }
    if (rejected.length === 0) return;
    const refused = new Set(rejected.map((r) => r.id));
    const accepted = batch.filter((p) => !refused.has(p.id)).map((p) => p.id);
    if (accepted.length === 0 && rejected.every((r) => (r.kind ?? 'payload') === 'payload')) {
      throw new PayloadError(
        rejected
          .slice(0, 3)
          .map((r) => r.reason)
          .join('; '),
        rejected.map((r) => r.id),
        {
          code: 'BIFROST_ERR_KAFKA_REJECTED',
          connector: this.label,
        },
      );
    }
    throw new PartialWriteError(accepted, rejected, { connector: this.label });
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.stale = true;
    await producer?.disconnect().catch(() => undefined);
  }

  healthCheck(): Promise<HealthProbe> {
    if (!this.producer || this.stale) return Promise.resolve({ ok: false, detail: 'producer not connected' });
    return Promise.resolve({ ok: true });
  }

  /** Sends the records; when the broker refuses some as poison, finds which by sending them one by one. */
  private async send(items: readonly SendItem[]): Promise<RejectedPoint[]> {
    try {
      await this.sendBatch(items);
      return [];
    } catch (err) {
      const e = this.classify(err);
      if (!(e instanceof PayloadError) || items.length === 1) throw e;
      this.ctx.logger.warn(
        { code: e.code, points: items.length },
        'the broker refused a record of the batch; sending one by one to find it',
      );
    }
    const rejected: RejectedPoint[] = [];
    for (const item of items) {
      try {
        await this.sendBatch([item]);
      } catch (err) {
        const e = this.classify(err);
        if (!(e instanceof PayloadError)) throw e;
        rejected.push({ id: item.point.id, reason: e.message });
      }
    }
    return rejected;
  }

  /** Replaces a producer whose last send failed; concurrent writers share one replacement. */
  private async freshProducer(): Promise<Producer> {
    if (this.stale && this.producer) {
      this.replacing ??= this.connect().finally(() => {
        this.replacing = undefined;
      });
      await this.replacing;
    }
    if (!this.producer || this.stale)
      throw new TransientError('not connected', { code: 'BIFROST_ERR_KAFKA_NOT_CONNECTED', connector: this.label });
    return this.producer;
  }

  private async sendBatch(items: ReadonlyArray<{ topic: string; record: Message }>): Promise<void> {
    const producer = await this.freshProducer();
    const byTopic = new Map<string, Message[]>();
    for (const { topic, record } of items) {
      const list = byTopic.get(topic);
      if (list) list.push(record);
      else byTopic.set(topic, [record]);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    try {
      await producer.sendBatch({
        topicMessages,
        acks: -1,
        timeout: this.config.request_timeout_ms,
        compression: compressionType(this.config.compression),
      });
    } catch (err) {
      if (this.producer === producer) this.stale = true;
      throw err;
    }
  }

  private sizeProblem(bytes: number): string | undefined {
    if (bytes <= this.config.max_message_bytes) return undefined;
    return `record of ${bytes} bytes exceeds max_message_bytes (${this.config.max_message_bytes})`;
  }

  private classify(err: unknown): BifrostError {
    return classifyKafkaError(err);
  }
}
