import { ConfigError, type DataPoint } from '@bifrost/core';

/** Placeholders a routing key template may use. */
export const ROUTING_KEY_FIELDS = ['device_id', 'tag_name', 'quality'] as const;
type Field = (typeof ROUTING_KEY_FIELDS)[number];

/** AMQP short strings (routing keys, message ids) are at most 255 bytes. */
export const MAX_SHORTSTR_BYTES = 255;

const PLACEHOLDER = /\{([^{}]*)\}/g;

const read: Record<Field, (p: DataPoint) => string> = {
  device_id: (p) => p.deviceId,
  tag_name: (p) => p.tagName,
  quality: (p) => p.quality,
};

/**
 * Compiles a routing key template such as `{device_id}.{tag_name}` once; throws a ConfigError
 * naming `routing_key` for an unknown placeholder.
 */
export function compileRoutingKey(template: string): (point: DataPoint) => string {
  const parts: Array<string | Field> = [];
  const fields = new Set<string>(ROUTING_KEY_FIELDS);
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] ?? '';
    if (!fields.has(name)) {
      throw new ConfigError(`routing_key: unknown placeholder {${name}}; use ${ROUTING_KEY_FIELDS.map((f) => `{${f}}`).join(', ')}`, {
        code: 'BIFROST_ERR_AMQP_ROUTING_KEY_TEMPLATE',
      });
    }
    parts.push(template.slice(last, m.index));
    parts.push(name as Field);
    last = (m.index ?? 0) + m[0].length;
  }
  const tail = template.slice(last);
  const literal = (i: number) => i % 2 === 0;
  return (point) => {
    let key = '';
    for (let i = 0; i < parts.length; i++) key += literal(i) ? parts[i] : read[parts[i] as Field](point);
    return key + tail;
  };
}
