import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Pool, type Dispatcher } from 'undici';
import {
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  classifyError,
  compilePointTemplate,
  pointJsonBytes,
  type BifrostError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type PointTemplate,
  type RejectedPoint,
  type TlsMaterial,
  type WriteOptions,
  type WriteReceipt,
} from '@bifrost/core';
import type { HttpConfig } from './config.js';
import { classifyResponse, namedRejections } from './responses.js';
import { contentType, hmacSignature, idempotencyKey, renderBody } from './wire.js';

const gzip = promisify(gzipCb);

/** Most response-body bytes read (for reasons and `partial_response`); the rest is discarded. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** One request of a write: its points and the headers rendered from templates. */
export interface PlannedRequest {
  points: DataPoint[];
  headers: Record<string, string>;
}

/** What became of the points of one request (and of the requests it was split into). */
interface Outcome {
  accepted: string[];
  rejected: RejectedPoint[];
  /** Points not delivered for a retryable or breaker-opening reason, with that reason. */
  failed: Array<{ ids: string[]; error: BifrostError }>;
  bytes: number;
}

const emptyOutcome = (): Outcome => ({ accepted: [], rejected: [], failed: [], bytes: 0 });

function merge(into: Outcome, from: Outcome): Outcome {
  into.accepted.push(...from.accepted);
  into.rejected.push(...from.rejected);
  into.failed.push(...from.failed);
  into.bytes += from.bytes;
  return into;
}

/** RFC 9110 token: what undici accepts as a header name. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value undici sends: no control characters but tab. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Order of precedence when a write fails wholly for several reasons: the one an operator must act on first. */
const SEVERITY: Partial<Record<BifrostError['kind'], number>> = { auth: 0, config: 1, capacity: 2, transient: 3 };
/** The rank of a failure in {@link SEVERITY}; NaN (sorts as a tie) for a kind it does not list, as before. */
const severity = (e: BifrostError): number => SEVERITY[e.kind] ?? Number.NaN;

/** Socket options of a connection to the origin: the host's TLS material is named as Node's TLS options. */
interface ProbeOptions extends Partial<TlsMaterial> {
  timeout: number;
}

/** Test seam: builds the dispatcher instead of a pool (e.g. undici's `MockAgent`), and skips the connect probe. */
export interface HttpConnectorOptions {
  dispatcher?: () => Dispatcher;
}

/**
 * An HTTP endpoint: each batch as one request (JSON array or NDJSON; one per distinct set of
 * templated header values) or one request per point, over an undici keep-alive pool to the origin
 * (HTTP/2 when the server offers it). A request counts as delivered on a 2xx answer. It does not
 * retry (the host does), except that a 413 is split in halves by bytes inside the write.
 */
export class HttpConnector implements Connector {
  private pool: Dispatcher | undefined;
  private readonly url: URL;
  private readonly staticHeaders: Record<string, string> = {};
  private readonly templates: Array<[string, PointTemplate]> = [];

  constructor(
    private readonly config: HttpConfig,
    private readonly ctx: PluginContext,
    private readonly options: HttpConnectorOptions = {},
  ) {
    this.url = new URL(config.endpoint);
    for (const [name, value] of Object.entries(config.headers)) {
      const key = name.toLowerCase();
      if (!HEADER_NAME.test(name))
        throw new ConfigError(`headers: "${name}" is not a valid HTTP header name`, {
          code: 'BIFROST_ERR_HTTP_HEADER',
        });
      if (!/\{[^{}]*\}/.test(value) && !HEADER_VALUE.test(value))
        throw new ConfigError(`headers.${name}: the value holds a control character (CR, LF, NUL, ...)`, {
          code: 'BIFROST_ERR_HTTP_HEADER',
        });
      if (/\{[^{}]*\}/.test(value))
        this.templates.push([key, compilePointTemplate(value, { option: `headers.${name}` })]);
      else this.staticHeaders[key] = value;
    }
    this.staticHeaders['content-type'] = contentType(config.body);
    if (config.bearer_token !== undefined) this.staticHeaders.authorization = `Bearer ${config.bearer_token}`;
    if (config.username !== undefined)
      this.staticHeaders.authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
  }

  /**
   * Opens a keep-alive pool to the origin with the current `ctx.tls`, and checks that a TCP (and TLS)
   * connection can be made, so a refused port or a certificate problem shows here, not in the first write.
   */
  async connect(): Promise<void> {
    await this.close();
    if (this.options.dispatcher) {
      this.pool = this.options.dispatcher();
      return;
    }
    const tls = this.ctx.tls;
    if (tls && this.url.protocol !== 'https:')
      this.ctx.logger.warn(
        { endpoint: this.url.origin },
        'TLS files are configured but the endpoint is http://: they are not used',
      );
    const connectOptions = this.connectOptions();
    try {
      await this.probe(connectOptions);
    } catch (err) {
      throw classifyError(err);
    }
    this.pool = new Pool(this.url.origin, {
      connections: this.config.connections,
      allowH2: this.config.http2 && this.url.protocol === 'https:',
      connect: connectOptions,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
    this.ctx.logger.info({ origin: this.url.origin, http2: this.config.http2 }, 'HTTP endpoint reachable');
  }

  /** Socket options of the origin from the current `ctx.tls` (TLS options only for `https://`). */
  private connectOptions(): ProbeOptions {
    const tls = this.ctx.tls;
    return {
      timeout: this.config.connect_timeout,
      ...(this.url.protocol === 'https:' && { rejectUnauthorized: true, ...tls }),
    };
  }

  /**
   * The host's periodic probe: a fresh TCP (and TLS) connection to the origin, as in `connect()`,
   * so an endpoint gone while no data flows turns health red (and the host reconnects). No HTTP
   * request is sent.
   */
  async healthCheck(): Promise<HealthProbe> {
    if (!this.pool) return { ok: false, detail: 'not connected' };
    if (this.options.dispatcher) return { ok: true };
    try {
      await this.probe(this.connectOptions());
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: classifyError(err).message };
    }
  }

  /**
   * One TCP (or TLS) connection to the origin, closed at once. Over TLS it waits for the session
   * ticket (TLS 1.3) or a short grace period, so a server refusing the client certificate is seen.
   */
  private probe(opts: ProbeOptions): Promise<void> {
    const port = Number(this.url.port) || (this.url.protocol === 'https:' ? 443 : 80);
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    return new Promise<void>((resolve, reject) => {
      let socket: Socket;
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () =>
          done(
            Object.assign(new Error(`connect to ${this.url.host} timed out after ${opts.timeout} ms`), {
              code: 'ETIMEDOUT',
            }),
          ),
        opts.timeout,
      );
      if (this.url.protocol === 'https:') {
        const { timeout: _t, ...tlsOpts } = opts;
        const t = tlsConnect({
          host,
          port,
          ...tlsOpts,
          servername: opts.servername ?? (/^[\d.:]+$/.test(host) ? undefined : host),
          ALPNProtocols: this.config.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
        });
        socket = t;
        t.once('secureConnect', () => {
          if (t.getProtocol() !== 'TLSv1.3') return done();
          t.once('session', () => done());
          setTimeout(() => done(), 300).unref();
        });
      } else {
        socket = netConnect({ host, port }, () => done());
      }
      socket.once('error', (err) => done(err));
      socket.once('close', () =>
        done(
          new TransientError(
            this.url.protocol === 'https:'
              ? 'the server closed the TLS connection right after the handshake; if it requires a client certificate, check cert_file and key_file'
              : 'connection closed by the server during connect',
            { code: 'BIFROST_ERR_HTTP_CONNECT_CLOSED' },
          ),
        ),
      );
    });
  }

  /**
   * Resolves when every request of the batch was answered 2xx (with no rejection in a
   * `partial_response`). Poison points come back in a {@link PayloadError} (all of them) or a
   * {@link PartialWriteError}; a failure of the whole batch as a classified error.
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    const pool = this.pool;
    if (!pool) throw new TransientError('not connected', { code: 'BIFROST_ERR_NOT_CONNECTED' });
    if (batch.length === 0) return { bytes: 0 };
    const { requests, rejected } = this.plan(batch);
    const outcome = emptyOutcome();
    outcome.rejected.push(...rejected);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++];
        if (!request) break;
        merge(outcome, await this.send(pool, request, signal));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.config.connections, requests.length) }, worker));
    return this.settle(batch, outcome);
  }

  /** Turns the outcome of all requests into the write's result. */
  private settle(batch: readonly DataPoint[], o: Outcome): WriteReceipt {
    if (o.rejected.length === 0 && o.failed.length === 0) return { bytes: o.bytes };
    if (o.accepted.length === 0 && o.rejected.length === 0) {
      // Not every list is empty (checked above), so at least one request failed.
      const [worst] = [...o.failed].sort((a, b) => severity(a.error) - severity(b.error));
      if (!worst) throw new Error('[bifrost] http: a write failed without a failed request');
      throw classifyError(worst.error);
    }
    if (
      o.accepted.length === 0 &&
      o.failed.length === 0 &&
      o.rejected.length === batch.length &&
      o.rejected.every((r) => r.kind === 'payload')
    ) {
      const reasons = [...new Set(o.rejected.map((r) => r.reason))];
      throw new PayloadError(
        reasons.length === 1 && reasons[0] !== undefined
          ? reasons[0]
          : `${o.rejected.length} points refused: ${reasons.slice(0, 3).join('; ')}`,
        o.rejected.map((r) => r.id),
        { code: 'BIFROST_ERR_HTTP_PAYLOAD' },
      );
    }
    const rejected = [...o.rejected];
    for (const f of o.failed) for (const id of f.ids) rejected.push({ id, reason: f.error.message, kind: 'transient' });
    throw new PartialWriteError(o.accepted, rejected, { code: 'BIFROST_ERR_HTTP_PARTIAL_WRITE' });
  }

  /**
   * The requests of a batch: one per point (`body: point`) or one per distinct set of templated
   * header values; and the points whose templated header value cannot be sent (a control character
   * from a tag), refused as poison.
   */
  plan(batch: readonly DataPoint[]): { requests: PlannedRequest[]; rejected: RejectedPoint[] } {
    const rejected: RejectedPoint[] = [];
    const render = (p: DataPoint): Record<string, string> | undefined => {
      const h: Record<string, string> = {};
      for (const [name, t] of this.templates) {
        const v = t(p);
        if (!HEADER_VALUE.test(v)) {
          rejected.push({
            id: p.id,
            reason: `header ${name}: the value rendered from the point holds a control character`,
            kind: 'payload',
          });
          return undefined;
        }
        h[name] = v;
      }
      return h;
    };
    if (this.templates.length === 0) {
      const requests =
        this.config.body === 'point'
          ? batch.map((p) => ({ points: [p], headers: {} }))
          : [{ points: [...batch], headers: {} }];
      return { requests, rejected };
    }
    if (this.config.body === 'point') {
      const requests: PlannedRequest[] = [];
      for (const p of batch) {
        const headers = render(p);
        if (headers) requests.push({ points: [p], headers });
      }
      return { requests, rejected };
    }
    const groups = new Map<string, PlannedRequest>();
    for (const p of batch) {
      const headers = render(p);
      if (!headers) continue;
      const key = JSON.stringify(headers);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { points: [], headers }));
      g.points.push(p);
    }
    return { requests: [...groups.values()], rejected };
  }

  /**
   * Sends one request. A body over `max_batch_bytes` is first cut into requests that fit (measured
   * once per batch, not per point); on 413 the request is split in halves by bytes, down to one point.
   */
  private async send(pool: Dispatcher, req: PlannedRequest, signal: AbortSignal): Promise<Outcome> {
    const text = Buffer.from(renderBody(this.config.body, req.points));
    if (text.length > this.config.max_batch_bytes && req.points.length > 1) {
      const parts = cutByBytes(req, this.config.max_batch_bytes - BODY_FRAMING_BYTES[this.config.body]);
      const outcomes = await Promise.all(parts.map((part) => this.send(pool, part, signal)));
      return outcomes.reduce(merge, emptyOutcome());
    }
    const out = emptyOutcome();
    const ids = req.points.map((p) => p.id);
    const headers: Record<string, string> = { ...this.staticHeaders, ...req.headers };
    if (this.config.idempotency_header) headers[this.config.idempotency_header.toLowerCase()] = idempotencyKey(ids);
    if (this.config.hmac_secret)
      headers[this.config.hmac_header.toLowerCase()] = hmacSignature(this.config.hmac_secret, text);
    let body = text;
    if (this.config.gzip && text.length >= this.config.gzip_min_bytes) {
      body = await gzip(text);
      headers['content-encoding'] = 'gzip';
    }
    let status: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let responseText: string;
    try {
      const res = await pool.request({
        origin: this.url.origin,
        path: `${this.url.pathname}${this.url.search}`,
        method: this.config.method,
        headers,
        body,
        signal,
      });
      status = res.statusCode;
      responseHeaders = res.headers;
      responseText = await readLimited(res.body);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      out.failed.push({
        ids,
        error:
          code === 'UND_ERR_INVALID_ARG'
            ? new ConfigError(`the request cannot be sent: ${(err as Error).message}`, {
                code: 'BIFROST_ERR_HTTP_INVALID_REQUEST',
                cause: err,
              })
            : classifyError(err),
      });
      return out;
    }
    const verdict = classifyResponse(status, responseHeaders, responseText);
    switch (verdict.kind) {
      case 'ok': {
        const named = this.config.partial_response
          ? namedRejections(responseText, this.config.partial_response)
          : undefined;
        const bad = named?.length
          ? this.resolve(req.points, named, `refused in a partial response (HTTP ${status})`)
          : undefined;
        for (const p of req.points) if (!bad?.has(p.id)) out.accepted.push(p.id);
        if (bad) for (const [id, reason] of bad) out.rejected.push({ id, reason, kind: 'payload' });
        out.bytes += text.length;
        return out;
      }
      case 'too-large': {
        const [only] = req.points;
        if (req.points.length === 1 && only) {
          out.rejected.push({
            id: only.id,
            reason: `${verdict.reason}; a single point of ${text.length} bytes`,
            kind: 'payload',
          });
          return out;
        }
        const [a, b] = splitByBytes(req);
        // Sequential halves: the server just said it is short of room.
        merge(out, await this.send(pool, a, signal));
        merge(out, await this.send(pool, b, signal));
        return out;
      }
      case 'payload': {
        const named = this.config.partial_response
          ? namedRejections(responseText, this.config.partial_response)
          : undefined;
        const bad = named?.length ? this.resolve(req.points, named, verdict.reason) : undefined;
        if (bad) {
          // The server named the culprits of a refused request: dead-letter them, retry the others.
          for (const [id, reason] of bad) out.rejected.push({ id, reason, kind: 'payload' });
          for (const p of req.points)
            if (!bad.has(p.id))
              out.rejected.push({
                id: p.id,
                reason: `request refused for other points (${verdict.reason})`,
                kind: 'transient',
              });
          return out;
        }
        for (const id of ids) out.rejected.push({ id, reason: verdict.reason, kind: 'payload' });
        return out;
      }
      case 'error':
        out.failed.push({ ids, error: verdict.error });
        return out;
    }
  }

  /** Point id -> reason for the rejections a partial response names (unknown indexes and ids ignored). */
  private resolve(
    points: readonly DataPoint[],
    named: ReturnType<typeof namedRejections> & object,
    fallback: string,
  ): Map<string, string> | undefined {
    const ids = new Set(points.map((p) => p.id));
    const bad = new Map<string, string>();
    for (const n of named) {
      const id = n.index !== undefined ? points[n.index]?.id : n.id !== undefined && ids.has(n.id) ? n.id : undefined;
      if (id !== undefined) bad.set(id, n.reason ? `${fallback}: ${n.reason}` : fallback);
    }
    return bad.size ? bad : undefined;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    // In-flight requests were aborted by the host before close; do not wait on a stuck socket.
    const timer = setTimeout(() => void pool.destroy().catch(() => {}), 2_000);
    try {
      await pool.close();
    } catch {
      await pool.destroy().catch(() => {});
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Body bytes besides the points' {@link pointJsonBytes} (which count one separator each): a JSON
 * array's brackets less its last comma; NDJSON's newlines are the separators.
 */
const BODY_FRAMING_BYTES: Record<HttpConfig['body'], number> = { json: 1, ndjson: 0, point: 0 };

/**
 * Cuts a request's points, in order, into requests of at most `maxPointBytes` of
 * {@link pointJsonBytes} each; a point larger alone is a request of its own.
 */
export function cutByBytes(req: PlannedRequest, maxPointBytes: number): PlannedRequest[] {
  const parts: PlannedRequest[] = [];
  let points: DataPoint[] = [];
  let bytes = 0;
  for (const p of req.points) {
    const size = pointJsonBytes(p);
    if (points.length > 0 && bytes + size > maxPointBytes) {
      parts.push({ points, headers: req.headers });
      points = [];
      bytes = 0;
    }
    points.push(p);
    bytes += size;
  }
  if (points.length > 0) parts.push({ points, headers: req.headers });
  return parts;
}

/** Splits a request's points in two halves of about equal bytes (each non-empty). */
export function splitByBytes(req: PlannedRequest): [PlannedRequest, PlannedRequest] {
  const sizes = req.points.map(pointJsonBytes);
  const total = sizes.reduce((a, b) => a + b, 0);
  let cut = 0;
  let acc = 0;
  for (const size of sizes) {
    if (cut >= sizes.length - 1 || acc + size > total / 2) break;
    acc += size;
    cut++;
  }
  cut = Math.min(Math.max(cut, 1), req.points.length - 1);
  return [
    { points: req.points.slice(0, cut), headers: req.headers },
    { points: req.points.slice(cut), headers: req.headers },
  ];
}

/** The response body as text, at most {@link MAX_RESPONSE_BYTES} (the rest is drained). */
async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size >= MAX_RESPONSE_BYTES) continue;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    chunks.push(buf);
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES);
}
