import { compilePointTemplate, type PointTemplate } from '@bifrost/core';

/** The Kafka connector's own topic placeholders, besides the point's (see `pointTemplatePlaceholders`). */
export const TOPIC_FIELDS = ['topic_prefix'] as const;

/** Kafka's legal topic names (see `org.apache.kafka.common.internals.Topic`). */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why `name` is not a legal Kafka topic name, or undefined when it is. */
export function topicNameProblem(name: string): string | undefined {
  if (name === '.' || name === '..') return `topic "${name}" is not allowed`;
  if (!LEGAL_TOPIC.test(name))
    return `topic "${name.slice(0, 80)}" is not a legal Kafka topic name (letters, digits, ".", "_", "-", at most 249)`;
  return undefined;
}

/**
 * Compiles a topic template such as `{topic_prefix}{device_id}` once (core's point template);
 * throws a ConfigError naming `topic` for an unknown placeholder.
 */
export function compileTopic(template: string, topicPrefix: string): PointTemplate {
  return compilePointTemplate(template, {
    option: 'topic',
    code: 'BIFROST_ERR_KAFKA_TOPIC_TEMPLATE',
    fields: { topic_prefix: topicPrefix },
  });
}
