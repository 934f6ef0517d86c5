import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerTlsPem } from '../tls/fixture.js';
import { controlClient } from './control-client.js';
import { httpReady } from './probes.js';
import { startProcessPeer, type ProcessPeer } from './process-peer.js';

/** Listeners of the receiver: control (behaviour and read-back), plain HTTP, HTTPS and mTLS. */
export type HttpReceiverPort = 'control' | 'http' | 'https' | 'mtls';

export interface HttpReceiverOptions {
  /** Serves `https` (HTTP/2 and HTTP/1.1 by ALPN) and `mtls` (client certificate required) with these. */
  tls?: ServerTlsPem;
  /** Requests without `authorization: Bearer <token>` get 401. */
  bearerToken?: string;
  /** Requests without this HTTP basic auth get 401. */
  basic?: { username: string; password: string };
  /** Verifies `hmacHeader: sha256=<hex HMAC-SHA256 of the decoded body>`; a wrong or missing one gets 401. */
  hmacSecret?: string;
  /** Default `x-bifrost-signature`. */
  hmacHeader?: string;
  /** Bodies (decoded) above this many bytes get 413. */
  maxBodyBytes?: number;
}

/** The behaviour a test sets over the control endpoint; kept across restarts. */
export interface HttpReceiverBehaviour {
  /** Answers of the next requests, one each (see {@link HttpReceiverPeer.failNext}). */
  next: Array<{ status: number; retryAfter?: string; body?: string }>;
  /** Delay before every answer. */
  latencyMs: number;
  /** Bodies (decoded) above this many bytes get 413. */
  maxBodyBytes?: number;
  /**
   * Points of these devices are refused in a partial response: `status` (default 200) with
   * `{ [path ?? 'rejected']: [...] }` listing indexes, ids, or `{ index, id, reason }` objects.
   */
  partial?: { deviceIds: string[]; status?: number; path?: string; as?: 'index' | 'id' | 'object' };
  /** Status of accepted requests (default 200). */
  okStatus: number;
}

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  seq: number;
  time: number;
  /** `http`, `https` or `mtls`. */
  listener: string;
  method: string;
  path: string;
  /** `1.1` or `2.0`. */
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  /** Status the receiver answered. */
  status: number;
  /** Body bytes on the wire, and after content decoding. */
  bytes: number;
  decodedBytes: number;
  contentEncoding?: string;
  /** With `hmacSecret`: whether the signature matched. */
  signatureValid?: boolean;
  /** CN of the client certificate (mtls listener). */
  clientCert?: string;
  /** Points parsed from the body: a JSON array, one JSON object, or NDJSON. */
  points: Array<Record<string, unknown> & { id?: string }>;
  /** Indexes of `points` refused in a partial response. */
  rejected: number[];
  /** Why the body could not be parsed. */
  error?: string;
}

/** A running HTTP receiver: a real server in its own process on loopback. */
export interface HttpReceiverPeer extends ProcessPeer<HttpReceiverPort> {
  /** `http://127.0.0.1:<port>/ingest` (HTTP/1.1). */
  readonly url: string;
  /** `https://127.0.0.1:<port>/ingest` (HTTP/2 or HTTP/1.1), when started with `tls`. */
  readonly httpsUrl: string;
  /** `https://127.0.0.1:<port>/ingest` requiring a client certificate, when started with `tls` (a missing or refused one is answered 401 naming the reason, as nginx does). */
  readonly mtlsUrl: string;
  /** `http://127.0.0.1:<port>` of the control endpoint. */
  readonly controlUrl: string;
  /** Merges `b` into the behaviour. */
  setBehaviour(b: Partial<HttpReceiverBehaviour>): Promise<HttpReceiverBehaviour>;
  /** The next `count` requests are answered `status` (with `Retry-After` and body when given). */
  failNext(status: number, opts?: { count?: number; retryAfter?: string; body?: string }): Promise<void>;
  /** Behaviour back to the defaults; the recorded requests are cleared unless `keepRequests`. */
  reset(opts?: { keepRequests?: boolean }): Promise<void>;
  /** Recorded requests with `seq` above `since` (all by default), oldest first. */
  requests(since?: number): Promise<ReceivedRequest[]>;
  /** Counts without the bodies: requests recorded, accepted points (copies included) and distinct ids among them. */
  stats(): Promise<{ requests: number; acceptedPoints: number; distinctIds: number }>;
  /** Points of the requests answered 2xx, minus those a partial response refused. */
  acceptedPoints(since?: number): Promise<Array<Record<string, unknown> & { id?: string }>>;
}

/** Accepted points of recorded requests (2xx, not refused in a partial response). */
export function acceptedPointsOf(requests: readonly ReceivedRequest[]): ReceivedRequest['points'] {
  return requests
    .filter((r) => r.status >= 200 && r.status < 300)
    .flatMap((r) => r.points.filter((_, i) => !r.rejected.includes(i)));
}

/**
 * How to run the server: the compiled `.js` beside this module (dist), or the `.ts` source when the
 * testkit runs from `src` (its own tests), type-stripped by Node (a flag before Node 23.6).
 */
function serverArgs(): string[] {
  const js = fileURLToPath(new URL('./http-receiver-server.js', import.meta.url));
  if (existsSync(js)) return [js];
  const ts = fileURLToPath(new URL('./http-receiver-server.ts', import.meta.url));
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 6) ? [ts] : ['--experimental-strip-types', ts];
}

/**
 * Starts the HTTP receiver peer: a real HTTP server, run as its own child process by the current
 * Node binary, on random loopback ports. `url` is plain HTTP/1.1; with `tls` also `httpsUrl`
 * (HTTP/2 via ALPN with HTTP/1.1 fallback, `allowHTTP1`) and `mtlsUrl` (client certificate
 * required). Every request is recorded (headers, body, parsed points) and kept across restarts;
 * tests script its answers (statuses, `Retry-After`, latency, partial responses, 413 over a size).
 *
 * @example
 * const rx = await startHttpReceiver({ bearerToken: 's3cret' });
 * await rx.failNext(429, { retryAfter: '2' });
 * // ... write to rx.url ...
 * const [first] = await rx.requests();
 */
export async function startHttpReceiver(opts: HttpReceiverOptions = {}): Promise<HttpReceiverPeer> {
  const peer = await startProcessPeer<HttpReceiverPort>({
    name: 'http-receiver',
    command: process.execPath,
    ports: ['control', 'http', 'https', 'mtls'],
    prepare: ({ dir, host, ports }) => {
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          host,
          ports,
          ...(opts.tls && { tls: { cert: opts.tls.certPem, key: opts.tls.keyPem, ca: opts.tls.caPem } }),
          ...(opts.bearerToken !== undefined && { bearerToken: opts.bearerToken }),
          ...(opts.basic && { basic: opts.basic }),
          ...(opts.hmacSecret !== undefined && { hmacSecret: opts.hmacSecret }),
          hmacHeader: opts.hmacHeader ?? 'x-bifrost-signature',
          ...(opts.maxBodyBytes !== undefined && { maxBodyBytes: opts.maxBodyBytes }),
        }),
        { mode: 0o600 },
      );
    },
    args: ({ dir }) => [...serverArgs(), '--dir', dir, '--config', join(dir, 'config.json')],
    env: () => ({ PATH: process.env.PATH, LANG: 'C.UTF-8' }),
    ready: ({ host, ports }) => httpReady(`http://${host}:${ports.control}/health`),
    stopTimeoutMs: 5_000,
    startTimeoutMs: 15_000,
  });
  const controlUrl = `http://${peer.host}:${peer.ports.control}`;
  const call = controlClient('http-receiver', controlUrl);
  const requests = (since = 0) => call<ReceivedRequest[]>('GET', `/requests?since=${since}`);
  return Object.assign(peer, {
    url: `http://${peer.host}:${peer.ports.http}/ingest`,
    httpsUrl: `https://${peer.host}:${peer.ports.https}/ingest`,
    mtlsUrl: `https://${peer.host}:${peer.ports.mtls}/ingest`,
    controlUrl,
    setBehaviour: (b: Partial<HttpReceiverBehaviour>) => call<HttpReceiverBehaviour>('POST', '/behaviour', b),
    async failNext(status: number, o: { count?: number; retryAfter?: string; body?: string } = {}) {
      await call('POST', '/next', { status, ...o });
    },
    async reset(o: { keepRequests?: boolean } = {}) {
      await call('POST', `/reset${o.keepRequests ? '?requests=keep' : ''}`);
    },
    requests,
    stats: () => call<{ requests: number; acceptedPoints: number; distinctIds: number }>('GET', '/stats'),
    acceptedPoints: async (since?: number) => acceptedPointsOf(await requests(since)),
  });
}
