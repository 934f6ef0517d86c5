import { gzipSync } from 'node:zlib';
import { defineConnector, z, type DataPoint } from '@bifrost/core';
import { createMemoryQueue, createPipeline } from '@bifrost/core/host';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretRegistry } from '../src/config/secrets.js';
import { buildApi, type ApiDeps } from '../src/http/server.js';

const sink = defineConnector({
  type: 'sink',
  configSchema: z.object({}),
  create: () => ({ connect: async () => undefined, close: async () => undefined, write: async () => undefined }),
});

const apps: Array<ReturnType<typeof buildApi>> = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

/** The API over a memory queue whose pipeline does not deliver: what a request queued stays leasable. */
function api(extra: Partial<ApiDeps> = {}) {
  const queue = createMemoryQueue();
  const pipeline = createPipeline({ queue, connectors: [{ name: 'a', definition: sink, config: {} }] });
  const app = buildApi({
    pipeline,
    queue,
    secrets: new SecretRegistry(),
    connectorConfigs: { a: {} },
    logger: pino({ level: 'silent' }),
    version: 'test',
    isAccepting: () => true,
    ...extra,
  });
  apps.push(app);
  const queued = async (): Promise<DataPoint[]> => (await queue.lease('a', 100_000))?.points.slice() ?? [];
  return { app, queued };
}

describe('InfluxDB write API', () => {
  it('POST /write: 204 once queued, one point per field, the precision applied', async () => {
    const { app, queued } = api();
    const res = await app.inject({
      method: 'POST',
      url: '/write?db=telegraf&precision=s',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      payload: 'boiler,site=north temp=81.5,alarm=f 1700000000\npump rpm=1200i 1700000001\n',
    });
    expect(res.statusCode, res.body).toBe(204);
    expect(res.body).toBe('');
    expect(await queued()).toEqual([
      expect.objectContaining({
        deviceId: 'boiler',
        tagName: 'temp',
        value: 81.5,
        timestamp: 1_700_000_000_000,
        tags: { site: 'north' },
      }),
      expect.objectContaining({ deviceId: 'boiler', tagName: 'alarm', value: false }),
      expect.objectContaining({ deviceId: 'pump', tagName: 'rpm', value: 1200, timestamp: 1_700_000_001_000 }),
    ]);
  });

  it('POST /api/v2/write: gzip bodies, device from the configured tag', async () => {
    const { app, queued } = api({ lineProtocol: { deviceTag: 'host' } });
    const res = await app.inject({
      method: 'POST',
      url: '/api/v2/write?org=o&bucket=b&precision=ms',
      headers: { 'content-encoding': 'gzip', 'content-type': 'text/plain' },
      payload: gzipSync('cpu,host=edge-1 usage_user=3.5 1700000000123\n'),
    });
    expect(res.statusCode, res.body).toBe(204);
    expect(await queued()).toEqual([
      expect.objectContaining({
        deviceId: 'edge-1',
        tagName: 'usage_user',
        value: 3.5,
        timestamp: 1_700_000_000_123,
        tags: { host: 'edge-1', _measurement: 'cpu' },
      }),
    ]);
  });

  it('bad lines: the good ones are queued and 400 names the bad ones in the body InfluxDB clients read', async () => {
    const { app, queued } = api();
    const v1 = await app.inject({ method: 'POST', url: '/write?db=x', payload: 'ok f=1\nbroken\nok f=2\nm f=1x' });
    expect(v1.statusCode).toBe(400);
    const body = v1.json<{ error: string; issues: Array<{ path: string }> }>();
    expect(body.error).toMatch(
      /^partial write: unable to parse line 2: .*; line 4: field "f" has an invalid value "1x"/,
    );
    expect(body.issues.map((i) => i.path)).toEqual(['line 2', 'line 4']);
    expect((await queued()).map((p) => p.value)).toEqual([1, 2]);

    const v2 = await app.inject({ method: 'POST', url: '/api/v2/write?bucket=b', payload: 'broken' });
    expect(v2.statusCode).toBe(400);
    expect(v2.json()).toMatchObject({
      code: 'invalid',
      message: expect.stringMatching(/^unable to parse line 1: /) as string,
    });
  });

  it('refuses an unknown precision, an unknown encoding and a corrupt gzip body', async () => {
    const { app } = api();
    const precision = await app.inject({ method: 'POST', url: '/write?precision=d', payload: 'm f=1' });
    expect(precision.statusCode).toBe(400);
    expect(precision.json<{ error: string }>().error).toMatch(/precision "d" is not one of n, ns/);
    const br = await app.inject({ method: 'POST', url: '/write', headers: { 'content-encoding': 'br' }, payload: 'x' });
    expect(br.statusCode).toBe(415);
    const corrupt = await app.inject({
      method: 'POST',
      url: '/write',
      headers: { 'content-encoding': 'gzip' },
      payload: Buffer.from('not gzip at all'),
    });
    expect(corrupt.statusCode).toBeGreaterThanOrEqual(400);
    expect(corrupt.statusCode).toBeLessThan(500);
  });

  it('applies the body limit to the decompressed text (a small gzip body cannot expand past it)', async () => {
    const { app, queued } = api({ bodyLimit: 10_000 });
    const lines = Array.from({ length: 2000 }, (_, i) => `m f=${i}`).join('\n');
    const res = await app.inject({
      method: 'POST',
      url: '/write',
      headers: { 'content-encoding': 'gzip' },
      payload: gzipSync(lines),
    });
    expect(gzipSync(lines).length).toBeLessThan(10_000);
    expect(res.statusCode).toBe(413);
    expect(await queued()).toEqual([]);
  });

  it('takes the token as InfluxDB 1.x and 2.x clients send it, and only there as p or Basic', async () => {
    const { app } = api({ token: 's3cret' });
    const basic = `Basic ${Buffer.from('telegraf:s3cret').toString('base64')}`;
    const ok = [
      { url: '/write?u=x&p=s3cret', headers: {} },
      { url: '/write', headers: { authorization: basic } },
      { url: '/api/v2/write', headers: { authorization: 'Token s3cret' } },
      { url: '/api/v2/write', headers: { authorization: 'Bearer s3cret' } },
    ];
    for (const r of ok)
      expect((await app.inject({ method: 'POST', payload: 'm f=1', ...r })).statusCode, r.url).toBe(204);
    const refused = [
      { url: '/write?p=wrong', headers: {} },
      { url: '/api/v2/write', headers: { authorization: 'Token wrong' } },
      { url: '/api/data?p=s3cret', headers: {} },
      { url: '/api/data', headers: { authorization: basic } },
    ];
    for (const r of refused)
      expect((await app.inject({ method: 'POST', payload: 'm f=1', ...r })).statusCode, r.url).toBe(401);
  });
});

describe('ingest budget', () => {
  it('answers 503 with Retry-After while other bodies hold the budget, and lets the next one in after', async () => {
    const { app } = api({ maxIngestBytes: 1000 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const { request } = await import('node:http');
    // A request that declares 900 bytes and sends them slowly holds 900 bytes of the budget.
    const held = request({ port, method: 'POST', path: '/write', headers: { 'content-length': '900' } });
    held.write('m f=1\n');
    await new Promise((r) => setTimeout(r, 100));
    const refused = await fetch(`http://127.0.0.1:${port}/api/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'd', tagName: 't', value: 1, unit: 'x'.repeat(150) }),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'BIFROST_ERR_INGEST_BUSY' });
    const done = new Promise<number>((resolve) => held.on('response', (res) => resolve(res.statusCode ?? 0)));
    held.end(`m f=2${' '.repeat(900 - 12)}\n`);
    expect(await done).toBe(204);
    const after = await fetch(`http://127.0.0.1:${port}/api/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'd', tagName: 't', value: 1 }),
    });
    expect(after.status).toBe(200);
  });
});
