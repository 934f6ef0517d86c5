import kafkajs, {
  type KafkaConfig as KafkaJsConfig,
  type Message,
  type Producer,
  type SASLOptions,
  type TopicMessages,
} from 'kafkajs';
import {
  abortable,
  PartialWriteError,
  PayloadError,
  TransientError,
  type BifrostError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type RejectedPoint,
  type WriteOptions,
  isBifrostError,
  pointJson,
  pointJsonByteLength,
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
 * topic being auto-created. A produce is never retried by kafkajs: its retry of a send resends only
 * to the brokers that had not answered, so the records of a partition whose leader moved to a
 * broker that had already answered the first try were never sent, and the send resolved anyway
 * (points lost when a leader was killed mid-stream in the 3-node cluster test). The connector
 * resends a failed batch whole, once (`sendBatch`), then leaves it to the host. kafkajs's idempotent producer requires client
 * retries, so the producer is not idempotent; a resent batch may repeat records that were written
 * (the `bifrost-id` header tells them apart), as it could before.
 */
const CLIENT_RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 };
const PRODUCE_RETRY = { retries: 0 };
/** Wait before the connector's one resend of a whole batch (see `sendBatch`). */
const RESEND_DELAY_MS = 200;

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
  return framedRecordBytes(
    Buffer.byteLength(record.value as string),
    record.key as string,
    record.headers?.[ID_HEADER] as string,
  );
}

/** A record of `valueBytes`, key `key` and id header `id`, with its framing. */
function framedRecordBytes(valueBytes: number, key: string, id: string): number {
  return valueBytes + Buffer.byteLength(key) + ID_HEADER.length + id.length + RECORD_OVERHEAD_BYTES;
}

/** The error a write cancelled by the host's signal rejects with (transient: the host retries it). */
function cancelledError(signal: AbortSignal): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown); producer disconnected', {
    code: 'BIFROST_ERR_KAFKA_WRITE_CANCELLED',
    cause: signal.reason,
  });
}

/** A point's bytes as this connector sends it (its record), for the host's `maxBatchBytes` cut. */
export function pointRecordBytes(point: DataPoint): number {
  return framedRecordBytes(pointJsonByteLength(point), point.deviceId, point.id);
}

/**
 * One point as a Kafka record: key = device id (partition and order per device), value = the point
 * as JSON without `priority` (the host's queue lane, never on the wire).
 */
export function toRecord(point: DataPoint): Message {
  return {
    key: point.deviceId,
    value: pointJson(point),
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
 * Sends each batch with `acks: all` and no client retries (see `PRODUCE_RETRY`), and resolves only
 * when every partition leader and its in-sync replicas have the records. After a failed send the
 * producer is replaced, so the next send starts from fresh metadata.
 */
export class KafkaConnector implements Connector {
  private producer: Producer | undefined;
  /** Set when the producer must be rebuilt before the next send. */
  private stale = true;
  private replacing: Promise<void> | undefined;
  private readonly topicOf: (p: DataPoint) => string;

  constructor(
    private readonly config: KafkaConfig,
    private readonly ctx: PluginContext,
  ) {
    this.topicOf = compileTopic(config.topic, config.topic_prefix);
  }

  /**
   * The host cuts batches to at most `max_message_bytes` (as {@link pointRecordBytes} measures
   * them), so one produce request never exceeds it; a single larger record is dead-lettered.
   */
  get maxBatchBytes(): number {
    return this.config.max_message_bytes;
  }

  async connect(): Promise<void> {
    await this.close();
    try {
      await ensureCodec(this.config.compression);
      const producer = new Kafka(clientConfig(this.config, this.ctx)).producer({
        idempotent: false,
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

  /**
   * Resolves once every record is acknowledged (`acks: all`). kafkajs cannot abort a send: when
   * `signal` aborts (the host's timeout or shutdown) the write rejects at once and the producer is
   * disconnected and replaced, so a late acknowledgement is never taken for points the host will
   * write again (records the broker already has are duplicates, which the id header lets consumers
   * drop). Other writes on that producer fail too and are retried.
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<void> {
    if (signal.aborted) throw cancelledError(signal);
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
    // One request per host batch: the host already cut it to max_message_bytes (maxBatchBytes).
    if (sendable.length) rejected.push(...(await this.cancellable(this.send(sendable), signal)));
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
        { code: 'BIFROST_ERR_KAFKA_REJECTED' },
      );
    }
    throw new PartialWriteError(accepted, rejected);
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

  /**
   * `work`, unless `signal` aborts first: then rejects at once and drops the producer (its sends in
   * flight fail; the next write connects a fresh one), so the abandoned send's ack cannot count.
   */
  private cancellable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    return abortable(
      work,
      signal,
      () => cancelledError(signal),
      () => this.dropProducer(),
    ).catch((err: unknown) => {
      throw isBifrostError(err) ? err : this.classify(err);
    });
  }

  /** Detaches the producer and disconnects it in the background; the host's next connect() makes a new one. */
  private dropProducer(): void {
    const producer = this.producer;
    this.producer = undefined;
    this.stale = true;
    void producer?.disconnect().catch(() => undefined);
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
      throw new TransientError('not connected', { code: 'BIFROST_ERR_KAFKA_NOT_CONNECTED' });
    return this.producer;
  }

  /**
   * Sends the records; a send that fails as transient (a leader election, a topic still being
   * created) is sent again once, whole, on a fresh producer after
   * {@link RESEND_DELAY_MS}: what kafkajs's own retry would do, minus its loss (see `PRODUCE_RETRY`).
   * Records of the first try that were written come again.
   */
  private async sendBatch(items: ReadonlyArray<{ topic: string; record: Message }>): Promise<void> {
    try {
      await this.sendOnce(items);
    } catch (err) {
      if (this.classify(err).kind !== 'transient') throw err;
      await new Promise((resolve) => setTimeout(resolve, RESEND_DELAY_MS));
      await this.sendOnce(items);
    }
  }

  private async sendOnce(items: ReadonlyArray<{ topic: string; record: Message }>): Promise<void> {
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
