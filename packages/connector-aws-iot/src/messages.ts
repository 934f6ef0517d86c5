import {
  compilePointTemplate,
  pointJson,
  pointJsonByteLength,
  pointsJson,
  type DataPoint,
  type RejectedPoint,
} from '@bifrost/core';
import { DEFAULT_TOPIC, type AwsIotConfig, type MessageMode } from './config.js';
import { AWS_IOT_LIMITS, basicIngestPrefix, topicProblem } from './limits.js';

/** One PUBLISH to send: its topic, its payload and the ids of the points it carries. */
export interface OutgoingMessage {
  topic: string;
  payload: string;
  ids: readonly string[];
}

/** The messages to send for a batch, and the points that can never be published. */
export interface BatchMessages {
  messages: OutgoingMessage[];
  poison: RejectedPoint[];
}

/** A topic for a point, or why the point can never be published (poison). */
type TopicResult = { topic: string } | { invalid: string };

/** Bounds the memo of checked topics (one entry per distinct topic seen). */
const MAX_CACHED_TOPICS = 100_000;

/**
 * Largest host batch in core's `pointJsonBytes`: AWS IoT's 128 KB payload limit less the array's
 * brackets, so a `batch` message of one topic never exceeds it.
 */
export const MAX_BATCH_BYTES = AWS_IOT_LIMITS.payloadBytes - 2;

/**
 * Turns batches into AWS IoT messages: the topic of each point from the template (with the Basic
 * Ingest prefix when set), checked against AWS IoT's topic limits once per distinct topic; one
 * message per point, or one JSON array per topic. Points breaking a limit are poison.
 */
export class MessageBuilder {
  private readonly template: (point: DataPoint) => string;
  private readonly prefix: string;
  private readonly cache = new Map<string, TopicResult>();

  /** Throws a ConfigError naming `topic` for an unknown placeholder. */
  constructor(
    config: Pick<AwsIotConfig, 'topic' | 'topic_prefix' | 'thing_name' | 'basic_ingest_rule'>,
    private readonly mode: MessageMode,
  ) {
    this.template = compilePointTemplate(config.topic ?? DEFAULT_TOPIC, {
      option: 'topic',
      code: 'BIFROST_ERR_AWS_IOT_TOPIC_TEMPLATE',
      fields: { topic_prefix: config.topic_prefix, thing_name: config.thing_name },
    });
    this.prefix = config.basic_ingest_rule === undefined ? '' : basicIngestPrefix(config.basic_ingest_rule);
  }

  /** The topic of `point` (Basic Ingest prefix included), or why it has none. */
  topicOf(point: DataPoint): TopicResult {
    const topic = this.template(point);
    let hit = this.cache.get(topic);
    if (hit === undefined) {
      const invalid = topicProblem(topic);
      hit = invalid === undefined ? { topic: this.prefix + topic } : { invalid };
      if (this.cache.size >= MAX_CACHED_TOPICS) this.cache.clear();
      this.cache.set(topic, hit);
    }
    return hit;
  }

  /** The messages of a batch (in `point` or `batch` mode) and the points that break a limit. */
  build(batch: readonly DataPoint[]): BatchMessages {
    const poison: RejectedPoint[] = [];
    const messages: OutgoingMessage[] = [];
    const refuse = (point: DataPoint, reason: string) => poison.push({ id: point.id, reason, kind: 'payload' });
    const byTopic = new Map<string, DataPoint[]>();
    for (const point of batch) {
      const t = this.topicOf(point);
      if ('invalid' in t) {
        refuse(point, t.invalid);
        continue;
      }
      // One point over the limit is poison in both modes (the host writes it alone when it cut
      // the batch; a batch of several never exceeds the limit, see MAX_BATCH_BYTES). A batch's
      // points are counted, not serialised: the group is serialised once below.
      const payload = this.mode === 'point' ? pointJson(point) : undefined;
      const bytes = payload === undefined ? pointJsonByteLength(point) : Buffer.byteLength(payload);
      if (bytes + (this.mode === 'batch' ? 2 : 0) > AWS_IOT_LIMITS.payloadBytes) {
        refuse(point, oversize(bytes));
        continue;
      }
      if (payload !== undefined) {
        messages.push({ topic: t.topic, payload, ids: [point.id] });
        continue;
      }
      const group = byTopic.get(t.topic);
      if (group) group.push(point);
      else byTopic.set(t.topic, [point]);
    }
    for (const [topic, points] of byTopic)
      messages.push({ topic, payload: pointsJson(points), ids: points.map((p) => p.id) });
    return { messages, poison };
  }
}

function oversize(bytes: number): string {
  return `message of ${bytes} bytes exceeds AWS IoT's maximum message size of ${AWS_IOT_LIMITS.payloadBytes} bytes (128 KB)`;
}
