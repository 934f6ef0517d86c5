import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildStreams } from '../src/devices.js';
import { simulatorConfigSchema } from '../src/schema.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const [exampleYaml = '', loadYaml = ''] = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map(([, body = '']) => body);
const withoutType = ({ type, ...rest }: Record<string, unknown>) => {
  expect(type).toBe('simulator');
  return rest;
};

describe('README', () => {
  it('example config is valid and describes what it says', () => {
    const doc = parse(exampleYaml) as { gateway: { sources: { plant: Record<string, unknown> } } };
    const config = simulatorConfigSchema.parse(withoutType(doc.gateway.sources.plant));
    const streams = buildStreams(config, 1);
    expect(streams).toHaveLength(6 + 20);
    expect(streams.at(-1)).toMatchObject({ deviceId: 'pump-20', tags: { line: 'B', station: '20' }, bad: 0.05 });
  });

  it('load example makes 100,000 points/s', () => {
    const doc = parse(loadYaml) as { load: Record<string, unknown> };
    const streams = buildStreams(simulatorConfigSchema.parse(withoutType(doc.load)), 1);
    expect(streams.reduce((sum, s) => sum + 1000 / s.intervalMs, 0)).toBe(100_000);
  });

  it('option table lists exactly the schema fields', () => {
    const [, afterOptions = ''] = readme.split('## Options');
    const [section = ''] = afterOptions.split('\n### ', 1);
    const documented = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(Object.keys(simulatorConfigSchema.shape));
  });
});
