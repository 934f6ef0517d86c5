import { z, type ConnectorDefinition, type SourceDefinition } from '@bifrost/core';
import { configFileSchema, sourceEntrySchema } from './schema.js';

type Json = Record<string, unknown>;

/**
 * zod 4's converter, as the config is written: draft-07 (what editors and Ajv read by default), the
 * input side of transforms (a duration is a number or a string), fields with defaults optional.
 * Descriptions, defaults, `examples` and the secret mark (`x-secret`, `writeOnly`) come along.
 */
function toJsonSchema(schema: z.core.$ZodType): Json {
  return z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any', reused: 'inline' });
}

/**
 * JSON Schema (draft-07) of the whole config file for editor completion: the gateway schema, with
 * each installed plugin's schema applied to the entries whose `type` names it (`provider_config`
 * for connectors, the entry itself for sources).
 */
export function configJsonSchema(plugins: { connectors: ConnectorDefinition[]; sources: SourceDefinition[] }): Json {
  const root: Json = { title: 'BifrostConfig', ...toJsonSchema(configFileSchema) };
  const gateway = (root.properties as Record<string, Json>).gateway!;
  const props = gateway.properties as Record<string, Json>;
  const cloudProps = props.cloud!.properties as Record<string, Json>;

  const connectorEntry = cloudProps.connectors!.additionalProperties as Json;
  connectorEntry.allOf = plugins.connectors.map((d) => ({
    if: { properties: { type: { const: d.type } }, required: ['type'] },
    then: { properties: { provider_config: pluginSchema(d.configSchema, ['endpoint']) } },
  }));

  const sourceEntry = props.sources!.additionalProperties as Json;
  // A source's plugin settings sit beside the host keys (type, enabled, ...): a strict plugin schema
  // (additionalProperties: false) must accept those keys, which the entry schema itself checks.
  const hostKeys = Object.keys(sourceEntrySchema.shape);
  sourceEntry.allOf = plugins.sources.map((d) => ({
    if: { properties: { type: { const: d.type } }, required: ['type'] },
    then: allowKeys(pluginSchema(d.configSchema, hostKeys), hostKeys),
  }));
  return root;
}

/** A plugin's schema without the keys the host handles (`endpoint` lives beside `provider_config`). */
function pluginSchema(schema: ConnectorDefinition['configSchema'], omit: string[]): Json {
  const s = toJsonSchema(schema);
  delete s.$schema;
  const props = s.properties as Record<string, unknown> | undefined;
  if (props) for (const k of omit) delete props[k];
  if (Array.isArray(s.required)) s.required = (s.required as string[]).filter((k) => !omit.includes(k));
  return s;
}

/** Declares `keys` as allowed (any value) so that `additionalProperties: false` does not flag them. */
function allowKeys(schema: Json, keys: string[]): Json {
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  for (const k of keys) props[k] = {};
  return { ...schema, properties: props };
}
