// The http-receiver peer on its own: what it records, how its scripted answers behave, and that
// it keeps its record across a restart and SIGKILL (the conformance suite of connector-http relies on it).
import { createHmac } from 'node:crypto';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTlsFixture,
  showPeerLogsOnFailure,
  startHttpReceiver,
  type HttpReceiverPeer,
  type TlsFixture,
} from '../src/index.js';

const TOKEN = 'rx-token';
const SECRET = 'rx-secret';
let rx: HttpReceiverPeer;
let tls: TlsFixture;

const sign = (body: string | Buffer) => `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

async function post(body: string, headers: Record<string, string> = {}, raw?: Buffer) {
  const res = await fetch(rx.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'x-bifrost-signature': sign(body),
      ...headers,
    },
    body: raw ?? body,
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
}

/** One HTTPS request with node:https (HTTP/1.1), optionally with a client certificate. */
function httpsPost(url: string, body: string, client?: { cert: string; key: string }) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        ca: tls.ca.cert,
        servername: 'localhost',
        ...client,
        headers: { authorization: `Bearer ${TOKEN}`, 'x-bifrost-signature': sign(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

showPeerLogsOnFailure(() => [rx]);
beforeAll(async () => {
  tls = createTlsFixture();
  rx = await startHttpReceiver({ tls: tls.serverTls(), bearerToken: TOKEN, hmacSecret: SECRET, maxBodyBytes: 2_000 });
});
afterAll(async () => {
  await rx?.dispose();
  tls?.dispose();
});
beforeEach(async () => {
  await rx.reset();
});

describe('http-receiver peer', () => {
  it('records method, path, headers, body sizes and parsed points of JSON and NDJSON bodies', async () => {
    expect((await post('[{"id":"a","v":1},{"id":"b"}]')).status).toBe(200);
    expect((await post('{"id":"c"}\n{"id":"d"}\n', { 'content-type': 'application/x-ndjson' })).status).toBe(200);
    const reqs = await rx.requests();
    expect(reqs.map((r) => [r.method, r.path, r.httpVersion, r.listener, r.status])).toEqual([
      ['POST', '/ingest', '1.1', 'http', 200],
      ['POST', '/ingest', '1.1', 'http', 200],
    ]);
    expect(reqs[0]!.points).toEqual([{ id: 'a', v: 1 }, { id: 'b' }]);
    expect(reqs[0]!.signatureValid).toBe(true);
    expect(reqs[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect((await rx.acceptedPoints()).map((p) => p.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(await rx.stats()).toEqual({ requests: 2, acceptedPoints: 4, distinctIds: 4 });
    expect((await rx.requests(reqs[0]!.seq)).map((r) => r.seq)).toEqual([reqs[1]!.seq]);
  });

  it('decodes gzip bodies and checks the signature over the decoded body', async () => {
    const body = JSON.stringify([{ id: 'g', pad: 'x'.repeat(500) }]);
    const zipped = gzipSync(body);
    expect((await post(body, { 'content-encoding': 'gzip' }, zipped)).status).toBe(200);
    const [r] = await rx.requests();
    expect(r!.contentEncoding).toBe('gzip');
    expect(r!.bytes).toBe(zipped.length);
    expect(r!.decodedBytes).toBe(Buffer.byteLength(body));
    expect(r!.signatureValid).toBe(true);
    expect(r!.points[0]!.id).toBe('g');
  });

  it('answers 401 to a wrong token or signature', async () => {
    expect((await post('[]', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await post('[]', { 'x-bifrost-signature': 'sha256=00' })).status).toBe(401);
    expect((await rx.requests()).map((r) => r.signatureValid)).toEqual([true, false]);
  });

  it('plays scripted answers for the next requests, with Retry-After and body, then accepts again', async () => {
    await rx.failNext(429, { count: 2, retryAfter: '3' });
    await rx.failNext(500, { body: 'boom' });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await post(`[{"id":"s${i}"}]`));
    expect(answers.map((a) => [a.status, a.retryAfter])).toEqual([
      [429, '3'],
      [429, '3'],
      [500, null],
      [200, null],
    ]);
    expect(answers[2]!.text).toBe('boom');
    expect((await rx.acceptedPoints()).map((p) => p.id)).toEqual(['s3']);
  });

  it('answers 413 over the size limit, 400 to a body it cannot parse, and delays by the set latency', async () => {
    expect((await post(JSON.stringify([{ id: 'big', pad: 'x'.repeat(3_000) }]))).status).toBe(413);
    expect((await post('[{"id":')).status).toBe(400);
    await rx.setBehaviour({ latencyMs: 300 });
    const t0 = Date.now();
    expect((await post('[{"id":"slow"}]')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('refuses the points of listed devices in a partial response', async () => {
    await rx.setBehaviour({ partial: { deviceIds: ['bad'], path: 'errors', as: 'id' } });
    const res = await post('[{"id":"p1","deviceId":"ok"},{"id":"p2","deviceId":"bad"}]');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ errors: ['p2'] });
    expect((await rx.acceptedPoints()).map((p) => p.id)).toEqual(['p1']);
  });

  it('speaks HTTP/2 over TLS (ALPN)', async () => {
    const session = http2Connect(`https://127.0.0.1:${rx.ports.https}`, { ca: tls.ca.cert, servername: 'localhost' });
    try {
      const body = '[{"id":"h2"}]';
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST',
          ':path': '/ingest',
          authorization: `Bearer ${TOKEN}`,
          'x-bifrost-signature': sign(body),
        });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
    } finally {
      session.close();
    }
    const [r] = await rx.requests();
    expect([r!.listener, r!.httpVersion]).toEqual(['https', '2.0']);
  });

  it('on the mTLS listener accepts the run client certificate and answers 401 naming the reason otherwise', async () => {
    expect((await httpsPost(rx.mtlsUrl, '[{"id":"m"}]', tls.client)).status).toBe(200);
    const none = await httpsPost(rx.mtlsUrl, '[]');
    expect(none.status).toBe(401);
    expect(none.text).toMatch(/client certificate refused/);
    const expired = await httpsPost(rx.mtlsUrl, '[]', tls.expiredClient);
    expect(expired.status).toBe(401);
    expect(expired.text).toMatch(/expired/i);
    const reqs = await rx.requests();
    expect(reqs[0]!.clientCert).toBe('bifrost-client');
  });

  it('keeps recorded requests and behaviour across a restart and SIGKILL', async () => {
    await post('[{"id":"r1"}]');
    await rx.setBehaviour({ latencyMs: 1 });
    await rx.restart();
    await post('[{"id":"r2"}]');
    await rx.kill();
    await rx.start();
    expect((await rx.acceptedPoints()).map((p) => p.id)).toEqual(['r1', 'r2']);
    expect((await rx.setBehaviour({})).latencyMs).toBe(1);
    const seqs = (await rx.requests()).map((r) => r.seq);
    expect(seqs[1]).toBeGreaterThan(seqs[0]!);
  });
});
