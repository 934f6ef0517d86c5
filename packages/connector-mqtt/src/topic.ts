import { ConfigError, type DataPoint } from '@bifrost/core';

/** Placeholders a topic template may use. */
export const TOPIC_FIELDS = ['topic_prefix', 'device_id', 'tag_name', 'quality', 'channel'] as const;
type Field = (typeof TOPIC_FIELDS)[number];

/** Channel topic segments by point kind (`{channel}`): `ALARM` and `EVENT` qualities have their own. */
export interface ChannelTopics {
  data: string;
  event: string;
  alarm: string;
}

/** A topic for a point, or why the point can never be published (poison). */
export type TopicResult = { topic: string } | { invalid: string };

const PLACEHOLDER = /\{([^{}]*)\}/g;
const MAX_TOPIC_BYTES = 65_535;
/** Bounds the memo of resolved topics (one entry per device/tag/quality seen). */
const MAX_CACHED_TOPICS = 100_000;

/**
 * Resolves the topic of each point from a template such as `{topic_prefix}/{device_id}/{tag_name}`.
 * The template is parsed once; resolved topics are memoised per (device, tag, quality) so a steady
 * stream reuses the same strings. Throws a ConfigError naming `topic` for an unknown placeholder.
 */
export class TopicResolver {
  private readonly parts: Array<{ literal: string } | { field: Field }> = [];
  private readonly cache = new Map<string, TopicResult>();

  constructor(template: string, private readonly prefix: string, private readonly channels: ChannelTopics) {
    const known = new Set<string>(TOPIC_FIELDS);
    let last = 0;
    for (const m of template.matchAll(PLACEHOLDER)) {
      const name = m[1] ?? '';
      if (!known.has(name)) {
        throw new ConfigError(`topic: unknown placeholder {${name}}; use ${TOPIC_FIELDS.map((f) => `{${f}}`).join(', ')}`, {
          code: 'BIFROST_ERR_MQTT_TOPIC_TEMPLATE',
        });
      }
      if (m.index > last) this.parts.push({ literal: template.slice(last, m.index) });
      this.parts.push({ field: name as Field });
      last = m.index + m[0].length;
    }
    if (last < template.length) this.parts.push({ literal: template.slice(last) });
  }

  /** The topic of `point`, or the reason it has none (wildcards or NUL in a device or tag name, too long). */
  resolve(point: DataPoint): TopicResult {
    const key = `${point.deviceId}\u0000${point.tagName}\u0000${point.quality}`;
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = this.build(point);
      if (this.cache.size >= MAX_CACHED_TOPICS) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }

  private build(point: DataPoint): TopicResult {
    let topic = '';
    for (const part of this.parts) topic += 'literal' in part ? part.literal : this.value(part.field, point);
    if (topic === '') return { invalid: 'topic is empty' };
    if (/[+#\u0000]/.test(topic)) return { invalid: `topic "${topic.slice(0, 200)}" contains a wildcard (+, #) or NUL, which MQTT forbids in topic names` };
    if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return { invalid: `topic is longer than ${MAX_TOPIC_BYTES} bytes` };
    return { topic };
  }

  private value(field: Field, p: DataPoint): string {
    switch (field) {
      case 'topic_prefix': return this.prefix;
      case 'device_id': return p.deviceId;
      case 'tag_name': return p.tagName;
      case 'quality': return p.quality;
      case 'channel': return p.quality === 'ALARM' ? this.channels.alarm : p.quality === 'EVENT' ? this.channels.event : this.channels.data;
    }
  }
}
