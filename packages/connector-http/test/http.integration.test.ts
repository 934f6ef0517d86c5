// The connector against the testkit's http-receiver, a real HTTP server in its own process: what the
// receiver sees (HTTP/2, signatures, gzip, keys) and how scripted answers are classified.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTlsFixture,
  showPeerLogsOnFailure,
  startHttpReceiver,
  type HttpReceiverPeer,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import {
  AuthError,
  CapacityError,
  PartialWriteError,
  PayloadError,
  TransientError,
  newPointId,
  type Connector,
  type DataPoint,
  type Logger,
  type TlsMaterial,
} from '@bifrost/core';
import http, { httpConfigSchema, idempotencyKey } from '../src/index.js';
import { nth, take } from './nth.js';

const silent: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const SECRET = 'hmac-shared-secret';

let seq = 0;
const points = (n: number, extra: Partial<DataPoint> = {}): DataPoint[] =>
  Array.from({ length: n }, () => ({
    id: newPointId(),
    deviceId: 'PLC001',
    tagName: `tag${seq++ % 5}`,
    value: seq,
    quality: 'GOOD',
    timestamp: Date.now(),
    ...extra,
  }));
const opts = () => ({ signal: new AbortController().signal });

let rx: HttpReceiverPeer;
let tlsFx: TlsFixture;
const open: Connector[] = [];

async function connector(config: Record<string, unknown>, tls?: TlsMaterial): Promise<Connector> {
  const c = http.create(httpConfigSchema.parse({ endpoint: rx.url, hmac_secret: SECRET, ...config }), {
    name: 'it',
    logger: silent,
    signal: new AbortController().signal,
    ...(tls && { tls }),
  });
  open.push(c);
  await c.connect();
  return c;
}

showPeerLogsOnFailure(() => [rx]);
beforeAll(async () => {
  tlsFx = createTlsFixture();
  rx = await startHttpReceiver({ tls: tlsFx.serverTls(), hmacSecret: SECRET });
});
afterAll(async () => {
  for (const c of open) await c.close();
  await rx?.dispose();
  tlsFx?.dispose();
});
beforeEach(async () => {
  for (const c of open.splice(0)) await c.close();
  await rx.reset();
});

describe('http connector on the http-receiver', () => {
  it('delivers a JSON batch over HTTP/1.1 with a signature the receiver verifies', async () => {
    const c = await connector({});
    const batch = points(50);
    await c.write(batch, opts());
    const [req] = take(await rx.requests(), 1);
    expect(req.httpVersion).toBe('1.1');
    expect(req.signatureValid).toBe(true);
    expect(req.points.map((p) => p.id)).toEqual(batch.map((p) => p.id));
    expect(req.headers['idempotency-key']).toBe(idempotencyKey(batch.map((p) => p.id)));
  });

  it('a wrong HMAC secret is refused by the receiver: AuthError', async () => {
    const c = await connector({ hmac_secret: 'not-the-secret' });
    await expect(c.write(points(1), opts())).rejects.toBeInstanceOf(AuthError);
    expect((await rx.requests())[0]?.signatureValid).toBe(false);
  });

  it('negotiates HTTP/2 over TLS when the server offers it, HTTP/1.1 when http2 is off', async () => {
    const h2 = await connector({ endpoint: rx.httpsUrl }, tlsFx.clientTls('tls'));
    await h2.write(points(10), opts());
    const h1 = await connector({ endpoint: rx.httpsUrl, http2: false }, tlsFx.clientTls('tls'));
    await h1.write(points(10), opts());
    expect((await rx.requests()).map((r) => [r.listener, r.httpVersion])).toEqual([
      ['https', '2.0'],
      ['https', '1.1'],
    ]);
  });

  it('presents the client certificate from ctx.tls on the mTLS listener', async () => {
    const c = await connector({ endpoint: rx.mtlsUrl }, tlsFx.clientTls('mtls'));
    await c.write(points(3), opts());
    const [req] = take(await rx.requests(), 1);
    expect(req.status).toBe(200);
    expect(req.clientCert).toBe('bifrost-client');
  });

  it('gzips bodies; the receiver decodes them and the signature covers the decoded body', async () => {
    const c = await connector({ gzip: true, body: 'ndjson' });
    const batch = points(200);
    await c.write(batch, opts());
    const [req] = take(await rx.requests(), 1);
    expect(req.contentEncoding).toBe('gzip');
    expect(req.bytes).toBeLessThan(req.decodedBytes / 3);
    expect(req.signatureValid).toBe(true);
    expect(req.points.map((p) => p.id)).toEqual(batch.map((p) => p.id));
  });

  it('honours Retry-After from a 429 and keeps the same idempotency key on the retry', async () => {
    const c = await connector({});
    await rx.failNext(429, { retryAfter: '7' });
    const batch = points(5);
    const err = (await c.write(batch, opts()).catch((e: unknown) => e)) as CapacityError;
    expect(err).toBeInstanceOf(CapacityError);
    expect(err.retryAfterMs).toBe(7_000);
    await c.write(batch, opts());
    const reqs = await rx.requests();
    expect(reqs.map((r) => r.status)).toEqual([429, 200]);
    expect(nth(reqs, 1).headers['idempotency-key']).toBe(nth(reqs, 0).headers['idempotency-key']);
  });

  it('reads an HTTP-date Retry-After from a 503', async () => {
    const c = await connector({});
    await rx.failNext(503, { retryAfter: new Date(Date.now() + 30_000).toUTCString() });
    const err = (await c.write(points(1), opts()).catch((e: unknown) => e)) as CapacityError;
    expect(err).toBeInstanceOf(CapacityError);
    expect(err.retryAfterMs).toBeGreaterThan(25_000);
  });

  it('classifies scripted 500, 401 and 400 answers', async () => {
    const c = await connector({});
    await rx.failNext(500);
    await expect(c.write(points(1), opts())).rejects.toBeInstanceOf(TransientError);
    await rx.failNext(401);
    await expect(c.write(points(1), opts())).rejects.toBeInstanceOf(AuthError);
    await rx.failNext(400, { body: 'field value: expected number' });
    const err = (await c.write(points(2), opts()).catch((e: unknown) => e)) as PayloadError;
    expect(err).toBeInstanceOf(PayloadError);
    expect(err.message).toContain('expected number');
  });

  it('splits on 413 down to one point and dead-letters only the point too large alone', async () => {
    await rx.setBehaviour({ maxBodyBytes: 4_096 });
    const c = await connector({});
    const [big] = take(points(1, { value: 'x'.repeat(5_000) }), 1);
    const batch = [...points(60), big, ...points(60)];
    const err = (await c.write(batch, opts()).catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.rejected.map((r) => [r.id, r.kind])).toEqual([[big.id, 'payload']]);
    expect(new Set((await rx.acceptedPoints()).map((p) => p.id))).toEqual(
      new Set(batch.filter((p) => p !== big).map((p) => p.id)),
    );
  });

  it('maps a partial response to a PartialWriteError', async () => {
    await rx.setBehaviour({ partial: { deviceIds: ['BAD'], path: 'rejected', as: 'object' } });
    const c = await connector({ partial_response: 'rejected' });
    const good = points(4);
    const bad = points(2, { deviceId: 'BAD' });
    const [bad0, bad1] = take(bad, 2);
    const err = (await c
      .write([nth(good, 0), bad0, ...good.slice(1), bad1], opts())
      .catch((e: unknown) => e)) as PartialWriteError;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect(err.rejected.map((r) => r.id).sort()).toEqual(bad.map((p) => p.id).sort());
    expect(err.rejected[0]?.reason).toContain('device BAD refused');
    expect(err.accepted.sort()).toEqual(good.map((p) => p.id).sort());
  });

  it('the write signal cancels the request in flight', async () => {
    await rx.setBehaviour({ latencyMs: 5_000 });
    const c = await connector({});
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort(), 200);
    const err = await c.write(points(3), { signal: abort.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('sends one request per point with body: point, at most `connections` at a time, over keep-alive', async () => {
    const c = await connector({ body: 'point', connections: 4 });
    const batch = points(40);
    await c.write(batch, opts());
    const reqs = await rx.requests();
    expect(reqs).toHaveLength(40);
    expect(new Set(reqs.map((r) => nth(r.points, 0).id))).toEqual(new Set(batch.map((p) => p.id)));
  });

  it('a refused port fails connect with a TransientError; an untrusted server certificate with a ConfigError', async () => {
    const down = http.create(httpConfigSchema.parse({ endpoint: 'http://127.0.0.1:1/x' }), {
      name: 'it',
      logger: silent,
      signal: new AbortController().signal,
    });
    await expect(down.connect()).rejects.toBeInstanceOf(TransientError);
    await expect(connector({ endpoint: rx.httpsUrl }, tlsFx.clientTls('untrusted-ca'))).rejects.toMatchObject({
      kind: 'config',
    });
  });

  it('reads ctx.tls on every connect, so rotated certificates are used at the next reconnect', async () => {
    const ctx = {
      name: 'it',
      logger: silent,
      signal: new AbortController().signal,
      tls: tlsFx.clientTls('untrusted-ca'),
    };
    const c = http.create(httpConfigSchema.parse({ endpoint: rx.mtlsUrl, hmac_secret: SECRET }), ctx);
    open.push(c);
    await expect(c.connect()).rejects.toMatchObject({ kind: 'config' });
    ctx.tls = tlsFx.clientTls('mtls'); // the host swapped the files
    await c.connect();
    await c.write(points(2), opts());
    expect((await rx.requests()).map((r) => [r.status, r.clientCert])).toEqual([[200, 'bifrost-client']]);
  });

  it('health check: a fresh connection to the origin; red while the receiver is down, green again after', async () => {
    const c = await connector({});
    expect(await c.healthCheck!()).toEqual({ ok: true });
    await rx.stop();
    try {
      const down = await c.healthCheck!();
      expect(down.ok).toBe(false);
      expect(down.detail).toMatch(/ECONNREFUSED/);
    } finally {
      await rx.start();
    }
    expect(await c.healthCheck!()).toEqual({ ok: true });
    await c.write(points(1), opts());
  });
});
