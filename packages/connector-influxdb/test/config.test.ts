import { describe, expect, it } from 'vitest';
import { baseUrl, influxConfigSchema, writePath } from '../src/index.js';
import { expectReadmeOptionsTable, expectEveryOptionDescribed } from '@bifrost/connector-testkit';

/**
 * Seed 001's InfluxDB connector as the host hands it over: its `provider_config.url` is an endpoint
 * alias the host resolves (the gateway tests load the seed file itself).
 */
const seed001 = {
  endpoint: 'http://localhost:8086',
  database: 'bifrost',
  username: 'admin',
  password: 'password',
  precision: 'ns',
  retention_policy: 'autogen',
  measurement: 'industrial_data',
  batch_size: 1000,
  version: '1.x',
};

describe('influxConfigSchema', () => {
  it('accepts seed 001 as written', () => {
    const c = influxConfigSchema.parse(seed001);
    expect(c).toMatchObject({ version: '1.x', database: 'bifrost', batch_size: 1000, gzip: true });
    expect(writePath(c)).toBe('/write?db=bifrost&rp=autogen&precision=ns');
    expect(baseUrl(c)).toBe('http://localhost:8086');
  });

  it('builds the 2.x write path from organization (or org) and bucket', () => {
    const c = influxConfigSchema.parse({
      endpoint: 'http://h:8086/',
      version: '2.x',
      org: 'acme',
      bucket: 'db/rp',
      token: 't',
      precision: 'ms',
    });
    expect(writePath(c)).toBe('/api/v2/write?org=acme&bucket=db%2Frp&precision=ms');
    expect(baseUrl(c)).toBe('http://h:8086');
  });

  it('names the field at fault', () => {
    const issues = (raw: unknown) =>
      influxConfigSchema.safeParse(raw).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({ endpoint: 'http://h' })).toEqual(['database: database is required for version 1.x']);
    expect(issues({ endpoint: 'http://h', version: '2.x' })).toEqual([
      'organization: organization (or org) is required for version 2.x',
      'bucket: bucket is required for version 2.x',
    ]);
    expect(issues({ database: 'd' })).toEqual([
      'endpoint: endpoint (or provider_config.url) is required, e.g. http://localhost:8086',
    ]);
    expect(issues({ endpoint: 'http://h', database: 'd', precision: 'h' })?.[0]).toMatch(/^precision: /);
    expect(issues({ endpoint: 'http://h', database: 'd', colour: 'red' })?.[0]).toMatch(/Unrecognized key.*colour/);
    expect(issues({ endpoint: 'http://h', database: 'd', measurement: '#m' })).toEqual([
      "measurement: measurement must not start with '#' (InfluxDB would read the lines as comments)",
    ]);
  });

  it('describes every field and marks secrets', () => {
    expectEveryOptionDescribed(influxConfigSchema, { secrets: ['password', 'token'] });
  });
});

describe('README', () => {
  it('carries the option table generated from the schema (`pnpm docs:tables`)', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), influxConfigSchema);
  });
});
