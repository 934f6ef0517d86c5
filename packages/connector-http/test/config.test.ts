import { describe, expect, it } from 'vitest';
import { expectEveryOptionDescribed, expectReadmeOptionsTable } from '@bifrost/connector-testkit';
import { httpConfigSchema } from '../src/index.js';

describe('httpConfigSchema', () => {
  it('needs only an endpoint and fills the defaults', () => {
    expect(httpConfigSchema.parse({ endpoint: 'https://ingest.example.com/v1/points' })).toEqual({
      endpoint: 'https://ingest.example.com/v1/points',
      method: 'POST',
      body: 'json',
      gzip: false,
      gzip_min_bytes: 1024,
      headers: {},
      hmac_header: 'x-bifrost-signature',
      idempotency_header: 'idempotency-key',
      http2: true,
      connections: 8,
      max_batch_bytes: 1024 * 1024,
      connect_timeout: 10_000,
    });
  });

  it('reads durations and the README example', () => {
    const c = httpConfigSchema.parse({
      endpoint: 'http://10.0.0.5:8080/hook',
      body: 'point',
      method: 'PUT',
      username: 'bifrost',
      password: 'x',
      headers: { 'X-Device': '{device_id}' },
      partial_response: 'errors',
      connect_timeout: '2s',
    });
    expect(c).toMatchObject({ body: 'point', method: 'PUT', connect_timeout: 2_000 });
  });

  it('refuses what cannot work, naming the field', () => {
    const issues = (input: Record<string, unknown>) =>
      httpConfigSchema.safeParse(input).error?.issues.map((i) => i.path.join('.'));
    expect(issues({})).toEqual(['endpoint']);
    expect(issues({ endpoint: 'ftp://x/y' })).toEqual(['endpoint']);
    expect(issues({ endpoint: 'http://x/', username: 'u' })).toEqual(['password']);
    expect(issues({ endpoint: 'http://x/', username: 'u', password: 'p', bearer_token: 't' })).toEqual([
      'bearer_token',
    ]);
    expect(issues({ endpoint: 'http://x/', body: 'xml' })).toEqual(['body']);
    expect(issues({ endpoint: 'http://x/', unknown_option: 1 })).toEqual(['']);
  });

  it('describes every option (they feed the README table) and marks the secrets', () => {
    expectEveryOptionDescribed(httpConfigSchema, { secrets: ['bearer_token', 'hmac_secret', 'password'] });
  });

  it('README option table matches the schema', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), httpConfigSchema);
  });
});
