import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from '@bifrost/connector-mqtt';
import simulator from '@bifrost/source-simulator';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema } from '../src/config/json-schema.js';

const validate = new Ajv({ strict: false, allErrors: true }).compile(
  configJsonSchema({ connectors: [mqtt], sources: [simulator] }),
);
const example = () =>
  parse(readFileSync(join(import.meta.dirname, '../../../examples/gateway.yaml'), 'utf8')) as {
    gateway: {
      sources: Record<string, Record<string, unknown>>;
      cloud: { connectors: Record<string, Record<string, unknown> & { provider_config: Record<string, unknown> }> };
    };
  };
const problems = () => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

describe('bifrost schema (JSON Schema for editors)', () => {
  it('accepts the example config: host keys (type, enabled, priority) beside strict plugin settings', () => {
    const cfg = example();
    cfg.gateway.sources.sim!.priority = 5;
    cfg.gateway.sources.sim!.enabled = true;
    expect(validate(cfg), problems().join('\n')).toBe(true);
  });

  it('still flags unknown source settings', () => {
    const cfg = example();
    cfg.gateway.sources.sim!.devicez = 3;
    expect(validate(cfg)).toBe(false);
    expect(problems().join('\n')).toMatch(/\/gateway\/sources\/sim .*additionalProperty.*devicez/);
  });

  it('still flags unknown provider_config keys and unknown host keys of connectors', () => {
    const cfg = example();
    const local = cfg.gateway.cloud.connectors['local-mqtt'];
    if (!local) throw new Error('the example has no local-mqtt connector');
    local.provider_config.topic_prefx = 'x';
    local.retry_cnt = 3;
    expect(validate(cfg)).toBe(false);
    const text = problems().join('\n');
    expect(text).toMatch(/provider_config .*topic_prefx/);
    expect(text).toMatch(/local-mqtt .*retry_cnt/);
  });
});
