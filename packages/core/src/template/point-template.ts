import type { DataPoint } from '../data-point.js';
import { ConfigError } from '../errors.js';

/** Placeholders every point template understands, besides `{tags.<key>}`. */
export const POINT_TEMPLATE_FIELDS = ['device_id', 'tag_name', 'quality'] as const;

/** A compiled template: the string (topic, routing key, ...) of one point. */
export type PointTemplate = (point: DataPoint) => string;

/**
 * A connector's own placeholder: a fixed string (folded into the template once, e.g. a configured
 * `topic_prefix`) or a function of the point (e.g. an MQTT channel chosen by quality).
 */
export type TemplateField = string | PointTemplate;

/** How {@link compilePointTemplate} reads a template. */
export interface PointTemplateOptions {
  /** The config option holding the template, named in errors, e.g. `topic` or `routing_key`. */
  option: string;
  /** Stable code of the ConfigError thrown for an unknown placeholder (default `BIFROST_ERR_CONFIG`). */
  code?: string;
  /** Placeholders besides the point's own fields; a name here wins over a built-in one. */
  fields?: Readonly<Record<string, TemplateField>>;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const TAG_PREFIX = 'tags.';

const POINT_READERS: Record<(typeof POINT_TEMPLATE_FIELDS)[number], PointTemplate> = {
  device_id: (p) => p.deviceId,
  tag_name: (p) => p.tagName,
  quality: (p) => p.quality,
};

/**
 * The placeholders a template may use, as written in it, for config descriptions and error
 * messages: the connector's `extra` ones first, then `{device_id}`, `{tag_name}`, `{quality}`,
 * `{tags.<key>}`.
 */
export function pointTemplatePlaceholders(extra: readonly string[] = []): string[] {
  const names = [...extra, ...POINT_TEMPLATE_FIELDS.filter((f) => !extra.includes(f))];
  return [...names.map((n) => `{${n}}`), `{${TAG_PREFIX}<key>}`];
}

function tagReader(key: string): PointTemplate {
  return (p) => {
    const v = p.tags?.[key];
    // An absent tag reads as empty (and so does `constructor` & co., which only the prototype has).
    return typeof v === 'string' ? v : '';
  };
}

/**
 * Compiles a template such as `{topic_prefix}/{device_id}/{tags.line}` once into a function of the
 * point. Placeholders: `{device_id}`, `{tag_name}`, `{quality}`, `{tags.<key>}` (empty when the
 * point lacks that tag) and the connector's own `fields`; text outside braces is kept as is. The
 * result is not checked: each protocol validates it by its own rules (MQTT wildcards, AMQP's 255
 * bytes, Kafka's legal characters) and dead-letters a point whose name it cannot use.
 *
 * @throws ConfigError naming `options.option` and the unknown placeholder, listing the known ones.
 */
export function compilePointTemplate(template: string, options: PointTemplateOptions): PointTemplate {
  const fields = options.fields ?? {};
  const parts: Array<string | PointTemplate> = [];
  const pushText = (text: string) => {
    if (text === '') return;
    const last = parts.length - 1;
    if (typeof parts[last] === 'string') parts[last] += text;
    else parts.push(text);
  };
  let end = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    pushText(template.slice(end, m.index));
    end = m.index + m[0].length;
    const name = m[1];
    if (name === undefined) throw new Error(`placeholder match without a name in ${JSON.stringify(template)}`);
    const field = Object.hasOwn(fields, name) ? fields[name] : placeholderReader(name);
    if (field === undefined) {
      throw new ConfigError(
        `${options.option}: unknown placeholder {${name}}; use ${pointTemplatePlaceholders(Object.keys(fields)).join(', ')}`,
        options.code === undefined ? undefined : { code: options.code },
      );
    }
    if (typeof field === 'string') pushText(field);
    else parts.push(field);
  }
  pushText(template.slice(end));
  return join(parts);
}

function placeholderReader(name: string): PointTemplate | undefined {
  if (Object.hasOwn(POINT_READERS, name)) return POINT_READERS[name as keyof typeof POINT_READERS];
  if (name.startsWith(TAG_PREFIX) && name.length > TAG_PREFIX.length) return tagReader(name.slice(TAG_PREFIX.length));
  return undefined;
}

/** The fastest function for the parts: a constant, a single reader, or a concatenation loop. */
function join(parts: ReadonlyArray<string | PointTemplate>): PointTemplate {
  const [only] = parts;
  if (only === undefined) return () => '';
  if (parts.length === 1) return typeof only === 'string' ? () => only : only;
  return (point) => {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : part(point);
    return out;
  };
}
