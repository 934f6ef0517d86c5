import { ConfigError, type DataPoint } from '@bifrost/core';

/** Placeholders a topic template may use. */
export const TOPIC_FIELDS = ['topic_prefix', 'device_id', 'tag_name'] as const;
type Field = (typeof TOPIC_FIELDS)[number];

/** Kafka's legal topic names (see `org.apache.kafka.common.internals.Topic`). */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why `name` is not a legal Kafka topic name, or undefined when it is. */
export function topicNameProblem(name: string): string | undefined {
  if (name === '.' || name === '..') return `topic "${name}" is not allowed`;
  if (!LEGAL_TOPIC.test(name)) return `topic "${name.slice(0, 80)}" is not a legal Kafka topic name (letters, digits, ".", "_", "-", at most 249)`;
  return undefined;
}

/**
 * Compiles a topic template such as `{topic_prefix}{device_id}` once; throws a ConfigError naming
 * `topic` for an unknown placeholder.
 */
export function compileTopic(template: string, topicPrefix: string): (point: DataPoint) => string {
  const fields = new Set<string>(TOPIC_FIELDS);
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    if (!fields.has(m[1] ?? '')) {
      throw new ConfigError(`topic: unknown placeholder {${m[1]}}; use ${TOPIC_FIELDS.map((f) => `{${f}}`).join(', ')}`, {
        code: 'BIFROST_ERR_KAFKA_TOPIC_TEMPLATE',
      });
    }
  }
  const fixed = template.replaceAll('{topic_prefix}', topicPrefix);
  if (!/\{(device_id|tag_name)\}/.test(fixed)) return () => fixed;
  const values: Record<Exclude<Field, 'topic_prefix'>, (p: DataPoint) => string> = {
    device_id: (p) => p.deviceId,
    tag_name: (p) => p.tagName,
  };
  return (point) => fixed.replace(/\{(device_id|tag_name)\}/g, (_, f: 'device_id' | 'tag_name') => values[f](point));
}
