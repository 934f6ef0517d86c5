// The HTTP receiver peer's server process (see `http-receiver.ts`). Self-contained (node: modules
// only, erasable TypeScript), so it runs as `node http-receiver-server.js` from dist, or as the .ts
// file itself on a Node with type stripping. Arguments: --dir <dir> and --config <file> (JSON).
//
// Listeners: `control` (plain HTTP/1.1: behaviour and read-back), `http` (plain HTTP/1.1), and when
// TLS files are given `https` (HTTP/2 with HTTP/1.1 fallback, ALPN) and `mtls` (the same, client
// certificate required and verified against the CA; refused ones are answered 401 with the reason). Every request on a data listener is recorded
// (appended to `requests.ndjson` in the directory before the answer, so restarts keep them).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';

interface ServerConfig {
  host: string;
  ports: { control: number; http: number; https: number; mtls: number };
  tls?: { cert: string; key: string; ca: string };
  bearerToken?: string;
  basic?: { username: string; password: string };
  hmacSecret?: string;
  hmacHeader: string;
  /** Answer 413 to bodies larger than this (decoded bytes). */
  maxBodyBytes?: number;
}

interface Scripted {
  status: number;
  retryAfter?: string;
  body?: string;
}

interface Behaviour {
  /** Answers for the next requests, one entry each, first first. */
  next: Scripted[];
  latencyMs: number;
  maxBodyBytes?: number;
  /**
   * Points whose deviceId is listed are refused in a partial response: status (default 200), body
   * `{ [path]: [...] }` with indexes (`as: index`), ids (`as: id`) or objects `{ index, id, reason }`.
   */
  partial?: { deviceIds: string[]; status?: number; path?: string; as?: 'index' | 'id' | 'object' };
  /** Status of a successful request (default 200; 204 answers with no body). */
  okStatus: number;
}

const args = process.argv.slice(2);
const arg = (name: string): string => {
  const i = args.indexOf(`--${name}`);
  const value = i < 0 ? undefined : args[i + 1];
  if (!value) throw new Error(`missing --${name}`);
  return value;
};
const dir = arg('dir');
const config = JSON.parse(readFileSync(arg('config'), 'utf8')) as ServerConfig;
const logFile = join(dir, 'requests.ndjson');
const behaviourFile = join(dir, 'behaviour.json');

const defaults = (): Behaviour => ({ next: [], latencyMs: 0, okStatus: 200, maxBodyBytes: config.maxBodyBytes });
let behaviour: Behaviour = existsSync(behaviourFile)
  ? { ...defaults(), ...(JSON.parse(readFileSync(behaviourFile, 'utf8')) as Partial<Behaviour>) }
  : defaults();
const saveBehaviour = () => writeFileSync(behaviourFile, JSON.stringify(behaviour));

interface Recorded {
  seq: number;
  time: number;
  listener: string;
  method: string;
  path: string;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  /** Body bytes as received (before content-encoding). */
  bytes: number;
  /** Body bytes after decoding. */
  decodedBytes: number;
  contentEncoding?: string;
  /** For a configured `hmacSecret`: whether the signature header matched the decoded body. */
  signatureValid?: boolean;
  /** CN of the client certificate on the mTLS listener. */
  clientCert?: string;
  /** Points parsed from the body (JSON array, one object, or NDJSON). */
  points: unknown[];
  /** Indexes of `points` refused in a partial response. */
  rejected: number[];
  /** Parse error of the body, if any. */
  error?: string;
}

const recorded: Recorded[] = existsSync(logFile)
  ? readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Recorded];
        } catch {
          return []; // a line torn by SIGKILL
        }
      })
  : [];
let seq = recorded.reduce((m, r) => Math.max(m, r.seq), 0);

function readBody(req: IncomingMessage | Http2ServerRequest): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function decode(raw: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').toLowerCase()) {
    case '':
    case 'identity':
      return raw;
    case 'gzip':
      return gunzipSync(raw);
    case 'deflate':
      return inflateSync(raw);
    case 'br':
      return brotliDecompressSync(raw);
    default:
      throw new Error(`unsupported content-encoding ${encoding}`);
  }
}

function parsePoints(text: string, contentType: string | undefined): unknown[] {
  if (!text.trim()) return [];
  if (/ndjson|jsonlines|x-jsonl/i.test(contentType ?? ''))
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as unknown);
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
}

function authorized(headers: Record<string, string | string[] | undefined>): boolean {
  const auth = typeof headers.authorization === 'string' ? headers.authorization : '';
  if (config.bearerToken !== undefined && auth !== `Bearer ${config.bearerToken}`) return false;
  if (config.basic) {
    const want = `Basic ${Buffer.from(`${config.basic.username}:${config.basic.password}`).toString('base64')}`;
    if (auth !== want) return false;
  }
  return true;
}

function signatureValid(headers: Record<string, string | string[] | undefined>, body: Buffer): boolean | undefined {
  if (config.hmacSecret === undefined) return undefined;
  const got = headers[config.hmacHeader.toLowerCase()];
  if (typeof got !== 'string') return false;
  const want = `sha256=${createHmac('sha256', config.hmacSecret).update(body).digest('hex')}`;
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

function reply(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined || status === 204 ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  (res as ServerResponse).writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
    ...headers,
  });
  res.end(text);
}

async function handleData(listener: string, req: Req, res: Res): Promise<void> {
  const raw = await readBody(req);
  const headers = req.headers as Record<string, string | string[] | undefined>;
  const encoding = typeof headers['content-encoding'] === 'string' ? headers['content-encoding'] : undefined;
  const rec: Recorded = {
    seq: ++seq,
    time: Date.now(),
    listener,
    method: req.method ?? '',
    path: req.url ?? '',
    httpVersion: req.httpVersion,
    headers,
    status: 0,
    bytes: raw.length,
    decodedBytes: raw.length,
    ...(encoding && { contentEncoding: encoding }),
    points: [],
    rejected: [],
  };
  const socket = req.socket as TLSSocket;
  if (listener === 'mtls' && typeof socket.getPeerCertificate === 'function') {
    const cn = socket.getPeerCertificate()?.subject?.CN;
    if (cn) rec.clientCert = Array.isArray(cn) ? cn[0] : cn;
  }
  let status = behaviour.okStatus;
  let resBody: unknown = { ok: true };
  const resHeaders: Record<string, string> = {};
  let decoded = raw;
  try {
    decoded = decode(raw, encoding);
    rec.decodedBytes = decoded.length;
    rec.points = parsePoints(decoded.toString('utf8'), headers['content-type'] as string | undefined);
  } catch (err) {
    rec.error = (err as Error).message;
  }
  const sig = signatureValid(headers, decoded);
  if (sig !== undefined) rec.signatureValid = sig;
  if (behaviour.latencyMs > 0) await sleep(behaviour.latencyMs);
  const scripted = behaviour.next.shift();
  if (scripted) saveBehaviour();
  const certRefused =
    listener === 'mtls' && !socket.authorized
      ? `client certificate refused: ${String(socket.authorizationError ?? 'none sent')}`
      : undefined;
  if (certRefused || !authorized(headers) || sig === false) {
    status = 401;
    resBody = { error: certRefused ?? (sig === false ? 'bad signature' : 'unauthorized') };
  } else if (scripted) {
    status = scripted.status;
    resBody = scripted.body ?? { error: `scripted ${scripted.status}` };
    if (scripted.retryAfter !== undefined) resHeaders['retry-after'] = scripted.retryAfter;
  } else if (behaviour.maxBodyBytes !== undefined && decoded.length > behaviour.maxBodyBytes) {
    status = 413;
    resBody = { error: `body of ${decoded.length} bytes exceeds ${behaviour.maxBodyBytes}` };
  } else if (rec.error) {
    status = 400;
    resBody = { error: rec.error };
  } else if (behaviour.partial) {
    const p = behaviour.partial;
    const bad = rec.points
      .map((pt, i) => [pt as { id?: string; deviceId?: string }, i] as const)
      .filter(([pt]) => p.deviceIds.includes(pt.deviceId ?? ''));
    if (bad.length) {
      status = p.status ?? 200;
      rec.rejected = bad.map(([, i]) => i);
      const as = p.as ?? 'index';
      resBody = {
        [p.path ?? 'rejected']: bad.map(([pt, i]) =>
          as === 'index' ? i : as === 'id' ? pt.id : { index: i, id: pt.id, reason: `device ${pt.deviceId} refused` },
        ),
      };
    }
  }
  rec.status = status;
  recorded.push(rec);
  appendFileSync(logFile, `${JSON.stringify(rec)}\n`);
  reply(res, status, resBody, resHeaders);
}

async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const body = await readBody(req);
  const json = (): unknown => (body.length ? JSON.parse(body.toString('utf8')) : {});
  if (req.method === 'GET' && url.pathname === '/health') return reply(res, 200, { ok: true });
  if (req.method === 'GET' && url.pathname === '/requests') {
    const since = Number(url.searchParams.get('since') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 1e9);
    return reply(res, 200, recorded.filter((r) => r.seq > since).slice(0, limit));
  }
  if (req.method === 'GET' && url.pathname === '/stats') {
    let accepted = 0;
    const ids = new Set<string>();
    for (const r of recorded)
      if (r.status >= 200 && r.status < 300)
        r.points.forEach((p, i) => {
          if (r.rejected.includes(i)) return;
          accepted++;
          const id = (p as { id?: unknown }).id;
          if (typeof id === 'string') ids.add(id);
        });
    return reply(res, 200, { requests: recorded.length, acceptedPoints: accepted, distinctIds: ids.size });
  }
  if (req.method === 'GET' && url.pathname === '/behaviour') return reply(res, 200, behaviour);
  if (req.method === 'POST' && url.pathname === '/behaviour') {
    behaviour = { ...behaviour, ...(json() as Partial<Behaviour>) };
    saveBehaviour();
    return reply(res, 200, behaviour);
  }
  if (req.method === 'POST' && url.pathname === '/next') {
    const b = json() as Scripted & { count?: number };
    for (let i = 0; i < (b.count ?? 1); i++)
      behaviour.next.push({
        status: b.status,
        ...(b.retryAfter !== undefined && { retryAfter: b.retryAfter }),
        ...(b.body !== undefined && { body: b.body }),
      });
    saveBehaviour();
    return reply(res, 200, behaviour);
  }
  if (req.method === 'POST' && url.pathname === '/reset') {
    behaviour = defaults();
    saveBehaviour();
    if (url.searchParams.get('requests') !== 'keep') {
      recorded.length = 0;
      writeFileSync(logFile, '');
    }
    return reply(res, 200, behaviour);
  }
  return reply(res, 404, { error: `no ${req.method} ${url.pathname}` });
}

function guard<A extends Req, B extends Res>(fn: (req: A, res: B) => Promise<void>) {
  return (req: A, res: B) => {
    fn(req, res).catch((err: Error) => {
      try {
        reply(res, 500, { error: err.message });
      } catch {
        /* response gone */
      }
    });
  };
}

const host = config.host;
const servers: Array<{ close(): void }> = [];
const control = createServer(guard(handleControl));
control.listen(config.ports.control, host);
servers.push(control);
const plain = createServer(
  { keepAliveTimeout: 60_000 },
  guard((q: IncomingMessage, s: ServerResponse) => handleData('http', q, s)),
);
plain.listen(config.ports.http, host);
servers.push(plain);
if (config.tls) {
  for (const [listener, mtls] of [
    ['https', false],
    ['mtls', true],
  ] as const) {
    const server = createSecureServer(
      {
        allowHTTP1: true,
        cert: config.tls.cert,
        key: config.tls.key,
        ca: config.tls.ca,
        // As nginx's `ssl_verify_client on`: the handshake completes and a request over a missing or
        // refused client certificate is answered with an error naming the reason (Node would just
        // close the socket, without a TLS alert the client could report).
        requestCert: mtls,
        rejectUnauthorized: false,
      },
      guard((q: Req, s: Res) => handleData(listener, q, s)),
    );
    server.listen(config.ports[listener], host);
    servers.push(server);
  }
}
const stop = () => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`http-receiver listening: ${JSON.stringify(config.ports)}\n`);
