import { compilePointTemplate, type DataPoint, type PointTemplate } from '@bifrost/core';

/** Placeholders a topic template may use (besides `{tags.<key>}`, which every point template takes). */
export const TOPIC_FIELDS = ['topic_prefix', 'device_id', 'tag_name', 'quality', 'channel'] as const;

/** Channel topic segments by point kind (`{channel}`): `ALARM` and `EVENT` qualities have their own. */
export interface ChannelTopics {
  data: string;
  event: string;
  alarm: string;
}

/** A topic for a point, or why the point can never be published (poison). */
export type TopicResult = { topic: string } | { invalid: string };

const MAX_TOPIC_BYTES = 65_535;
/** Bounds the memo of checked topics (one entry per distinct topic seen). */
const MAX_CACHED_TOPICS = 100_000;

/**
 * Resolves the topic of each point from a template such as `{topic_prefix}/{device_id}/{tag_name}`
 * (core's point template, compiled once). The MQTT checks of each distinct topic are memoised, so a
 * steady stream reuses the same result. Throws a ConfigError naming `topic` for an unknown placeholder.
 */
export class TopicResolver {
  private readonly template: PointTemplate;
  private readonly cache = new Map<string, TopicResult>();
  /**
   * Set when the template reads nothing of a point but its device id and tag name (the default
   * topic): results memoised by those two, so a point costs two lookups, not a topic string built
   * and hashed.
   */
  private readonly byDevice: Map<string, Map<string, TopicResult>> | undefined;
  private byDeviceEntries = 0;

  constructor(template: string, prefix: string, channels: ChannelTopics) {
    this.template = compilePointTemplate(template, {
      option: 'topic',
      code: 'BIFROST_ERR_MQTT_TOPIC_TEMPLATE',
      fields: {
        topic_prefix: prefix,
        channel: (p) =>
          p.quality === 'ALARM' ? channels.alarm : p.quality === 'EVENT' ? channels.event : channels.data,
      },
    });
    const placeholders = Array.from(template.matchAll(/\{([^{}]*)\}/g), (m) => m[1]);
    if (placeholders.every((p) => p === 'topic_prefix' || p === 'device_id' || p === 'tag_name'))
      this.byDevice = new Map();
  }

  /** The topic of `point`, or the reason it has none (wildcards or NUL in a device or tag name, too long). */
  resolve(point: DataPoint): TopicResult {
    if (this.byDevice === undefined) return this.resolveText(point);
    let byTag = this.byDevice.get(point.deviceId);
    if (byTag === undefined) {
      if (this.byDeviceEntries >= MAX_CACHED_TOPICS) {
        this.byDevice.clear();
        this.byDeviceEntries = 0;
      }
      byTag = new Map();
      this.byDevice.set(point.deviceId, byTag);
    }
    let hit = byTag.get(point.tagName);
    if (hit === undefined) {
      hit = this.resolveText(point);
      byTag.set(point.tagName, hit);
      this.byDeviceEntries++;
    }
    return hit;
  }

  private resolveText(point: DataPoint): TopicResult {
    const topic = this.template(point);
    let hit = this.cache.get(topic);
    if (hit === undefined) {
      hit = check(topic);
      if (this.cache.size >= MAX_CACHED_TOPICS) this.cache.clear();
      this.cache.set(topic, hit);
    }
    return hit;
  }
}

/** MQTT's rules for topic names a client publishes to. */
function check(topic: string): TopicResult {
  if (topic === '') return { invalid: 'topic is empty' };
  if (/[+#]/.test(topic) || topic.includes('\u0000'))
    return {
      invalid: `topic "${topic.slice(0, 200)}" contains a wildcard (+, #) or NUL, which MQTT forbids in topic names`,
    };
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return { invalid: `topic is longer than ${MAX_TOPIC_BYTES} bytes` };
  return { topic };
}
