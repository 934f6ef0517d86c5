import { gunzipSync } from 'node:zlib';
import { MockAgent } from 'undici';
import type { MockInterceptor } from 'undici/types/mock-interceptor.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthError,
  CapacityError,
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  type DataPoint,
  type Logger,
  type PluginContext,
} from '@bifrost/core';
import http, {
  HttpConnector,
  cutByBytes,
  hmacSignature,
  httpConfigSchema,
  idempotencyKey,
  splitByBytes,
} from '../src/index.js';
import { take } from './nth.js';

const ORIGIN = 'http://ingest.test';
const PATH = '/v1/points';

const silent: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silent,
};

const ctx = (): PluginContext => ({ name: 'unit', logger: silent, signal: new AbortController().signal });
const opts = () => ({ signal: new AbortController().signal });

let seq = 0;
const point = (extra: Partial<DataPoint> = {}): DataPoint => ({
  id: `p-${String(++seq).padStart(6, '0')}`,
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 1_764_921_600_000 + seq,
  ...extra,
});
const points = (n: number, extra: Partial<DataPoint> = {}) => Array.from({ length: n }, () => point(extra));

/** What the mock server saw of one request. */
interface Seen {
  method: string;
  headers: Record<string, string>;
  text: string;
  ids: string[];
}

type Answer = (seen: Seen) => { status: number; body?: unknown; headers?: Record<string, string> };

const agents: MockAgent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.close();
});

/** A connector on a MockAgent answering every request with `answer`; `seen` records the requests. */
async function setup(config: Record<string, unknown> = {}, answer: Answer = () => ({ status: 200 })) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const seen: Seen[] = [];
  agent
    .get(ORIGIN)
    .intercept({ path: PATH, method: () => true })
    .reply((req: MockInterceptor.MockResponseCallbackOptions) => {
      const headers = Object.fromEntries(
        Object.entries(req.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), String(v)]),
      );
      const raw = typeof req.body === 'string' ? Buffer.from(req.body) : Buffer.from(req.body as Uint8Array);
      const text = (headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const parsed = text
        ? headers['content-type'] === 'application/x-ndjson'
          ? text
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as DataPoint)
          : [JSON.parse(text) as DataPoint | DataPoint[]].flat()
        : [];
      const s: Seen = { method: req.method, headers, text, ids: parsed.map((p) => p.id) };
      seen.push(s);
      const a = answer(s);
      return {
        statusCode: a.status,
        data: a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body),
        responseOptions: { headers: a.headers ?? {} },
      };
    })
    .persist();
  const parsed = httpConfigSchema.parse({ endpoint: `${ORIGIN}${PATH}`, ...config });
  const connector = new HttpConnector(parsed, ctx(), { dispatcher: () => agent });
  await connector.connect();
  return { connector, seen };
}

describe('definition', () => {
  it('declares type http and the url alias, and leaves max_batch_bytes to the write (no host byte cut)', () => {
    expect(http.type).toBe('http');
    expect(http.endpointAliases).toEqual(['url']);
    expect(http.capabilities.maxBatchBytes).toBeUndefined();
    // As many batches in flight by default as connections the pool opens by default.
    expect(http.capabilities.defaultMaxInFlight).toBe(httpConfigSchema.parse({ endpoint: ORIGIN }).connections);
    const c = http.create(httpConfigSchema.parse({ endpoint: `${ORIGIN}${PATH}`, max_batch_bytes: 4096 }), ctx());
    expect(c.maxBatchBytes).toBeUndefined();
  });

  it('does no I/O in create and refuses to write before connect', async () => {
    const c = http.create(httpConfigSchema.parse({ endpoint: 'http://127.0.0.1:1/x' }), ctx());
    await expect(c.write([point()], opts())).rejects.toBeInstanceOf(TransientError);
  });
});

describe('write', () => {
  it('POSTs the batch as a JSON array with the ids, content type, idempotency key and bearer token', async () => {
    const { connector, seen } = await setup({ bearer_token: 'tok' });
    const batch = points(3);
    const receipt = await connector.write(batch, opts());
    expect(seen).toHaveLength(1);
    const [s] = take(seen, 1);
    expect(s.method).toBe('POST');
    expect(s.ids).toEqual(batch.map((p) => p.id));
    expect(s.headers['content-type']).toBe('application/json');
    expect(s.headers.authorization).toBe('Bearer tok');
    expect(s.headers['idempotency-key']).toBe(idempotencyKey(batch.map((p) => p.id)));
    expect(receipt).toEqual({ bytes: Buffer.byteLength(s.text) });
  });

  it('sends nothing for an empty batch', async () => {
    const { connector, seen } = await setup();
    await expect(connector.write([], opts())).resolves.toEqual({ bytes: 0 });
    expect(seen).toHaveLength(0);
  });

  it('sends NDJSON, PUT and basic auth when configured', async () => {
    const { connector, seen } = await setup({ body: 'ndjson', method: 'PUT', username: 'u', password: 'p' });
    const batch = points(2);
    await connector.write(batch, opts());
    expect(seen[0]?.method).toBe('PUT');
    expect(seen[0]?.headers['content-type']).toBe('application/x-ndjson');
    expect(seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(seen[0]?.ids).toEqual(batch.map((p) => p.id));
  });

  it('sends one request per point with body: point, each with its own key', async () => {
    const { connector, seen } = await setup({ body: 'point', connections: 2 });
    const batch = points(5);
    await connector.write(batch, opts());
    expect(seen.map((s) => s.ids[0]).sort()).toEqual(batch.map((p) => p.id).sort());
    for (const s of seen) expect(s.headers['idempotency-key']).toBe(idempotencyKey(s.ids));
  });

  it('renders templated headers and splits a batch by their values', async () => {
    const { connector, seen } = await setup({ headers: { 'X-Device': '{device_id}', 'X-Static': 'yes' } });
    const [a0, a1] = take(points(2, { deviceId: 'A' }), 2);
    const [b0] = take(points(1, { deviceId: 'B' }), 1);
    await connector.write([a0, b0, a1], opts());
    expect(seen.map((s) => [s.headers['x-device'], s.ids])).toEqual([
      ['A', [a0.id, a1.id]],
      ['B', [b0.id]],
    ]);
    for (const s of seen) expect(s.headers['x-static']).toBe('yes');
  });

  it('refuses invalid header names and values at create', () => {
    const make = (headers: Record<string, string>) => () =>
      new HttpConnector(httpConfigSchema.parse({ endpoint: `${ORIGIN}${PATH}`, headers }), ctx());
    expect(make({ 'bad header': 'x' })).toThrow(ConfigError);
    expect(make({ 'x-ok': 'a\r\nInjected: 1' })).toThrow(ConfigError);
    expect(make({ 'x-ok': 'plain value' })).not.toThrow();
  });

  it('dead-letters a point whose templated header value cannot be sent, delivers the others', async () => {
    const { connector, seen } = await setup({ headers: { 'x-line': '{tags.line}' } });
    const good = points(2, { tags: { line: 'L1' } });
    const bad = point({ tags: { line: 'L1\nX-Evil: 1' } });
    const [good0, good1] = take(good, 2);
    const err = (await connector.write([good0, bad, good1], opts()).catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.accepted).toEqual(good.map((p) => p.id));
    expect(err.rejected).toEqual([
      { id: bad.id, reason: expect.stringContaining('x-line') as unknown, kind: 'payload' },
    ]);
    expect(seen).toHaveLength(1);
  });

  it('refuses an unknown placeholder in a header at create', () => {
    const config = httpConfigSchema.parse({ endpoint: `${ORIGIN}${PATH}`, headers: { x: '{nope}' } });
    expect(() => new HttpConnector(config, ctx())).toThrow(ConfigError);
  });

  it('gzips bodies over gzip_min_bytes and signs the uncompressed body', async () => {
    const { connector, seen } = await setup({ gzip: true, gzip_min_bytes: 500, hmac_secret: 'k' });
    await connector.write(points(20), opts());
    await connector.write(points(1), opts()); // below the threshold: plain
    const [big, small] = take(seen, 2);
    expect(big.headers['content-encoding']).toBe('gzip');
    expect(big.ids).toHaveLength(20);
    expect(big.headers['x-bifrost-signature']).toBe(hmacSignature('k', big.text));
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.headers['x-bifrost-signature']).toBe(hmacSignature('k', small.text));
  });

  it('omits the idempotency header when it is configured empty', async () => {
    const { connector, seen } = await setup({ idempotency_header: '' });
    await connector.write(points(1), opts());
    expect(seen[0]?.headers['idempotency-key']).toBeUndefined();
  });
});

describe('idempotency key across retries', () => {
  it('is the same on every retry of the same points, and differs for other points', async () => {
    let fail = 2;
    const { connector, seen } = await setup({}, () => (fail-- > 0 ? { status: 503 } : { status: 200 }));
    const batch = points(10);
    await expect(connector.write(batch, opts())).rejects.toBeInstanceOf(CapacityError);
    await expect(connector.write([...batch].reverse(), opts())).rejects.toBeInstanceOf(CapacityError);
    await connector.write(batch, opts());
    await connector.write(points(10), opts());
    const keys = seen.map((s) => s.headers['idempotency-key']);
    expect(new Set(keys.slice(0, 3)).size).toBe(1);
    expect(keys[3]).not.toBe(keys[0]);
  });
});

describe('response classes', () => {
  const failing = (status: number, headers: Record<string, string> = {}, body: unknown = 'refused: bad value') =>
    setup({}, () => ({ status, headers, body }));

  it('2xx: success', async () => {
    for (const status of [200, 201, 202, 204]) {
      const { connector } = await failing(status, {}, '');
      await expect(connector.write(points(2), opts())).resolves.toMatchObject({ bytes: expect.any(Number) as unknown });
    }
  });

  it('408 and 5xx: TransientError; with Retry-After a CapacityError carrying it', async () => {
    for (const status of [408, 500, 502]) {
      const { connector } = await failing(status);
      await expect(connector.write(points(2), opts())).rejects.toBeInstanceOf(TransientError);
    }
    const { connector } = await failing(500, { 'retry-after': '4' });
    await expect(connector.write(points(2), opts())).rejects.toMatchObject({ kind: 'capacity', retryAfterMs: 4_000 });
  });

  it('429 and 503: CapacityError with Retry-After in seconds or as an HTTP date', async () => {
    const s = await failing(429, { 'retry-after': '2' });
    await expect(s.connector.write(points(1), opts())).rejects.toMatchObject({ kind: 'capacity', retryAfterMs: 2_000 });
    const at = new Date(Date.now() + 60_000).toUTCString();
    const d = await failing(503, { 'retry-after': at });
    const err = (await d.connector.write(points(1), opts()).catch((e: unknown) => e)) as CapacityError;
    expect(err).toBeInstanceOf(CapacityError);
    expect(err.retryAfterMs).toBeGreaterThan(55_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('401 and 403: AuthError with the server reason (the host adds the connector label)', async () => {
    for (const status of [401, 403]) {
      const { connector } = await failing(status, {}, { error: 'bad token' });
      const err = await connector.write(points(1), opts()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthError);
      expect((err as AuthError).connector).toBeUndefined();
      expect((err as AuthError).message).toContain('bad token');
    }
  });

  it('404: ConfigError, the points stay queued', async () => {
    const { connector } = await failing(404);
    await expect(connector.write(points(1), opts())).rejects.toBeInstanceOf(ConfigError);
  });

  it('other 4xx: PayloadError naming every point, with the start of the body in the reason', async () => {
    const { connector } = await failing(422, {}, `{"error":"value out of range","pad":"${'x'.repeat(1000)}"}`);
    const batch = points(3);
    const err = (await connector.write(batch, opts()).catch((e: unknown) => e)) as PayloadError;
    expect(err).toBeInstanceOf(PayloadError);
    expect(err.pointIds).toEqual(batch.map((p) => p.id));
    expect(err.message).toContain('HTTP 422: {"error":"value out of range"');
    expect(err.message.length).toBeLessThan(400);
  });

  it('a network error: TransientError', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    agents.push(agent);
    agent
      .get(ORIGIN)
      .intercept({ path: PATH, method: 'POST' })
      .replyWithError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    const c = new HttpConnector(httpConfigSchema.parse({ endpoint: `${ORIGIN}${PATH}` }), ctx(), {
      dispatcher: () => agent,
    });
    await c.connect();
    await expect(c.write(points(1), opts())).rejects.toBeInstanceOf(TransientError);
  });
});

describe('max_batch_bytes: a body over it is cut inside the write', () => {
  for (const body of ['json', 'ndjson'] as const) {
    it(`${body}: every request fits, each as full as the next point allows, every point sent once`, async () => {
      const max = 2_048;
      const { connector, seen } = await setup({ body, max_batch_bytes: max });
      const batch = points(60, { unit: '°C' });
      const receipt = await connector.write(batch, opts());
      expect(seen.length).toBeGreaterThan(1);
      expect(seen.flatMap((s) => s.ids)).toEqual(batch.map((p) => p.id));
      let at = 0;
      for (const s of seen) {
        const bytes = Buffer.byteLength(s.text);
        expect(bytes).toBeLessThanOrEqual(max);
        at += s.ids.length;
        const next = batch[at];
        // Greedy: the next point would not have fitted (its JSON and one separator).
        if (next) expect(bytes + Buffer.byteLength(JSON.stringify(next)) + 1).toBeGreaterThan(max);
        expect(s.headers['idempotency-key']).toBe(idempotencyKey(s.ids));
      }
      expect(receipt.bytes).toBe(seen.reduce((n, s) => n + Buffer.byteLength(s.text), 0));
    });
  }

  it('a point larger than max_batch_bytes alone goes alone, the others around it in fitting requests', async () => {
    const { connector, seen } = await setup({ max_batch_bytes: 1_024 });
    const big = point({ tags: { blob: 'x'.repeat(2_000) } });
    const batch = [...points(3), big, ...points(3)];
    await connector.write(batch, opts());
    expect(seen.map((s) => s.ids)).toEqual([batch.slice(0, 3), [big], batch.slice(4)].map((b) => b.map((p) => p.id)));
  });

  it('cutByBytes keeps order and never leaves a part empty', () => {
    const batch = points(10);
    const each = Buffer.byteLength(JSON.stringify(batch[0])) + 1;
    const parts = cutByBytes({ points: batch, headers: { x: '1' } }, each * 3);
    expect(parts.map((p) => p.points.length)).toEqual([3, 3, 3, 1]);
    expect(parts.flatMap((p) => p.points)).toEqual(batch);
    expect(parts.every((p) => p.headers.x === '1')).toBe(true);
  });
});

describe('413: split by bytes inside the write', () => {
  it('splits down to what fits and delivers every point', async () => {
    const { connector, seen } = await setup({}, (s) => ({ status: s.text.length > 1_000 ? 413 : 200 }));
    const batch = points(40);
    await connector.write(batch, opts());
    const delivered = seen.filter((s) => s.text.length <= 1_000).flatMap((s) => s.ids);
    expect(delivered.sort()).toEqual(batch.map((p) => p.id).sort());
    // Each split request carries the key of its own points.
    for (const s of seen) expect(s.headers['idempotency-key']).toBe(idempotencyKey(s.ids));
  });

  it('isolates a point too large alone as a PartialWriteError, the others accepted', async () => {
    const { connector } = await setup({}, (s) => ({ status: s.text.length > 2_000 ? 413 : 200 }));
    const big = point({ tags: { blob: 'x'.repeat(3_000) } });
    const batch = [...points(10), big, ...points(10)];
    const err = (await connector.write(batch, opts()).catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.rejected).toEqual([
      { id: big.id, reason: expect.stringContaining('HTTP 413') as unknown, kind: 'payload' },
    ]);
    expect(err.accepted.sort()).toEqual(
      batch
        .filter((p) => p !== big)
        .map((p) => p.id)
        .sort(),
    );
  });

  it('a single point refused with 413: PayloadError for that point', async () => {
    const { connector } = await setup({}, () => ({ status: 413, body: 'limit 1 KiB' }));
    const p = point();
    const err = (await connector.write([p], opts()).catch((e: unknown) => e)) as PayloadError;
    expect(err).toBeInstanceOf(PayloadError);
    expect(err.pointIds).toEqual([p.id]);
    expect(err.message).toContain('limit 1 KiB');
  });

  it('splitByBytes cuts near the middle of the bytes', () => {
    const big = point({ tags: { blob: 'x'.repeat(1_000) } });
    const small = points(5);
    const req = { points: [big, ...small], headers: {} };
    const [a, b] = splitByBytes(req);
    expect(a.points).toEqual([big]);
    expect(b.points).toEqual(small);
    const two = { points: small.slice(0, 2), headers: {} };
    expect(splitByBytes(two).map((r) => r.points.length)).toEqual([1, 1]);
  });
});

describe('partial_response', () => {
  it('maps rejected indexes of a 2xx answer to a PartialWriteError', async () => {
    const { connector } = await setup({ partial_response: 'result.rejected' }, () => ({
      status: 200,
      body: { result: { rejected: [{ index: 1, reason: 'unknown tag' }] } },
    }));
    const batch = points(3);
    const [p0, p1, p2] = take(batch, 3);
    const err = (await connector.write(batch, opts()).catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.accepted).toEqual([p0.id, p2.id]);
    expect(err.rejected).toEqual([
      { id: p1.id, reason: expect.stringContaining('unknown tag') as unknown, kind: 'payload' },
    ]);
  });

  it('maps ids named in a 4xx answer; the others are retried', async () => {
    const batch = points(3);
    const [p0, p1, p2] = take(batch, 3);
    const { connector } = await setup({ partial_response: 'errors' }, () => ({
      status: 400,
      body: { errors: [p2.id] },
    }));
    const err = (await connector.write(batch, opts()).catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.accepted).toEqual([]);
    expect(err.rejected.find((r) => r.id === p2.id)?.kind).toBe('payload');
    expect(err.rejected.filter((r) => r.kind === 'transient').map((r) => r.id)).toEqual([p0.id, p1.id]);
  });

  it('a 2xx answer naming nobody is a full success', async () => {
    const { connector } = await setup({ partial_response: 'rejected' }, () => ({
      status: 200,
      body: { rejected: [] },
    }));
    await expect(connector.write(points(2), opts())).resolves.toBeDefined();
  });
});

describe('mixed outcomes of one write', () => {
  it('one request accepted, another failing: PartialWriteError with the failed points retried', async () => {
    const { connector } = await setup({ headers: { 'x-device': '{device_id}' } }, (s) =>
      s.headers['x-device'] === 'B' ? { status: 503 } : { status: 200 },
    );
    const a = points(2, { deviceId: 'A' });
    const b = points(2, { deviceId: 'B' });
    const err = (await connector.write([...a, ...b], opts()).catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.accepted).toEqual(a.map((p) => p.id));
    expect(err.rejected.map((r) => [r.id, r.kind])).toEqual(b.map((p) => [p.id, 'transient']));
  });

  it('every request failing: the most severe error (auth before transient)', async () => {
    const { connector } = await setup({ headers: { 'x-device': '{device_id}' } }, (s) =>
      s.headers['x-device'] === 'B' ? { status: 401 } : { status: 500 },
    );
    await expect(
      connector.write([...points(1, { deviceId: 'A' }), ...points(1, { deviceId: 'B' })], opts()),
    ).rejects.toBeInstanceOf(AuthError);
  });
});
