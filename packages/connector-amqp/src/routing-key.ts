import { compilePointTemplate, type PointTemplate } from '@bifrost/core';

/** AMQP short strings (routing keys, message ids) are at most 255 bytes. */
export const MAX_SHORTSTR_BYTES = 255;

/**
 * Compiles a routing key template such as `{device_id}.{tag_name}` once (core's point template);
 * throws a ConfigError naming `routing_key` for an unknown placeholder.
 */
export function compileRoutingKey(template: string): PointTemplate {
  return compilePointTemplate(template, { option: 'routing_key', code: 'BIFROST_ERR_AMQP_ROUTING_KEY_TEMPLATE' });
}

/** Why `key` cannot be an AMQP routing key (longer than a short string), or undefined when it can. */
export function routingKeyProblem(key: string): string | undefined {
  if (Buffer.byteLength(key) <= MAX_SHORTSTR_BYTES) return undefined;
  return `routing key is longer than ${MAX_SHORTSTR_BYTES} bytes: ${key.slice(0, 64)}...`;
}
