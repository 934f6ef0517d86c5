import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { InfluxDB } from '@influxdata/influxdb-client';
import {
  abortable,
  PartialWriteError,
  TransientError,
  classifyError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type RejectedPoint,
  type WriteOptions,
  type WriteReceipt,
} from '@bifrost/core';
import { baseUrl, type InfluxConfig } from './config.js';
import { deliverRequest, type LineRequest } from './deliver.js';
import { classifyWriteFailure } from './http-errors.js';
import { UnwritablePointError, toLine } from './line-protocol.js';

/** Bodies above this many bytes are gzipped when `gzip` is on. */
const GZIP_THRESHOLD = 1024;

/** The error a write cancelled by the host's signal rejects with (transient: the host retries it). */
function cancelledError(signal: AbortSignal): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown); HTTP request aborted', {
    code: 'BIFROST_ERR_INFLUXDB_WRITE_CANCELLED',
    cause: signal.reason,
  });
}

/** The write path (with query) for the configured API version. */
export function writePath(c: InfluxConfig): string {
  const q = new URLSearchParams();
  if (c.version === '1.x') {
    q.set('db', c.database!);
    if (c.retention_policy) q.set('rp', c.retention_policy);
    q.set('precision', c.precision);
    return `/write?${q.toString()}`;
  }
  q.set('org', (c.organization ?? c.org)!);
  q.set('bucket', c.bucket!);
  q.set('precision', c.precision);
  return `/api/v2/write?${q.toString()}`;
}

/**
 * An InfluxDB connection: line protocol over HTTP through the official client's transport, one
 * request per host batch (the host cuts batches to `batch_size` points and `maxBatchBytes`),
 * acknowledged by HTTP 204. It does not retry: the host does.
 */
export class InfluxConnector implements Connector {
  private client?: InfluxDB;
  private agent?: HttpAgent;
  private readonly path: string;
  private readonly integerTags: ReadonlySet<string>;

  constructor(
    private readonly config: InfluxConfig,
    private readonly ctx: PluginContext,
  ) {
    this.path = writePath(config);
    this.integerTags = new Set(config.integer_tags);
  }

  /** Builds the client and checks reachability, credentials and the database with an empty write. */
  async connect(): Promise<void> {
    await this.close();
    const url = baseUrl(this.config);
    const https = url.startsWith('https:');
    const tls = this.ctx.tls;
    this.agent = https
      ? new HttpsAgent({
          keepAlive: true,
          ca: tls?.ca,
          cert: tls?.cert,
          key: tls?.key,
          passphrase: tls?.passphrase,
          servername: tls?.servername,
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
        })
      : new HttpAgent({ keepAlive: true });
    const headers: Record<string, string> = {};
    if (this.config.version === '1.x' && this.config.username !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.config.username}:${this.config.password ?? ''}`).toString('base64')}`;
    }
    this.client = new InfluxDB({
      url,
      token: this.config.version === '2.x' ? this.config.token : undefined,
      timeout: this.config.request_timeout,
      headers,
      transportOptions: { agent: this.agent },
    });
    try {
      await this.post('');
    } catch (err) {
      const failure = classifyWriteFailure(err);
      // InfluxDB 2.x answers an empty write with 400 "writing requires points" after checking the token and bucket.
      const acceptedProbe = failure.kind === 'lines' && /requires points/i.test(failure.message);
      if (!acceptedProbe) {
        await this.close();
        throw failure.kind === 'error' ? failure.error : err;
      }
    }
    this.ctx.logger.info({ url, api: this.config.version, path: this.path.split('?')[0] }, 'connected to InfluxDB');
  }

  /**
   * Resolves when InfluxDB acknowledged every line. Poison points (unwritable, or rejected by the
   * server) come back in a {@link PartialWriteError} with every other point accepted. The receipt
   * counts the line-protocol bytes of the acknowledged requests (before gzip). When `signal` aborts
   * (the host's timeout or shutdown) the HTTP request in flight is aborted (its socket destroyed, so
   * no late 204 is taken) and the write rejects at once with a {@link TransientError}.
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    if (signal.aborted) throw cancelledError(signal);
    if (!this.client) throw new TransientError('not connected', { code: 'BIFROST_ERR_NOT_CONNECTED' });
    const { request, rejected } = this.render(batch);
    const requestSignal = AbortSignal.any([signal, this.ctx.signal]);
    let bytes = 0;
    const post = async (body: string) => {
      if (signal.aborted) throw cancelledError(signal);
      bytes += await this.post(body, requestSignal);
    };
    try {
      rejected.push(
        ...(await abortable(
          deliverRequest(request, (p) => toLine(p, this.config, this.integerTags), post),
          signal,
          () => cancelledError(signal),
        )),
      );
    } catch (err) {
      if (signal.aborted) throw cancelledError(signal);
      const error = classifyError(err);
      if (rejected.length === 0) throw error;
      // Nothing was delivered, but the unwritable points are still poison: dead-letter them, retry the rest.
      for (const p of request.points) rejected.push({ id: p.id, reason: error.message, kind: 'transient' });
    }
    if (rejected.length === 0) return { bytes };
    const bad = new Set(rejected.map((r) => r.id));
    throw new PartialWriteError(
      batch.filter((p) => !bad.has(p.id)).map((p) => p.id),
      rejected,
      { code: 'BIFROST_ERR_INFLUXDB_PARTIAL_WRITE' },
    );
  }

  /** The batch as one request, and the points that cannot be written. */
  private render(batch: readonly DataPoint[]): { request: LineRequest; rejected: RejectedPoint[] } {
    const rejected: RejectedPoint[] = [];
    const points: DataPoint[] = [];
    const lines: string[] = [];
    for (const p of batch) {
      try {
        lines.push(toLine(p, this.config, this.integerTags));
        points.push(p);
      } catch (err) {
        if (!(err instanceof UnwritablePointError)) throw err;
        rejected.push({ id: p.id, reason: err.message, kind: 'payload' });
      }
    }
    return { request: { points, body: lines.join('\n') }, rejected };
  }

  /** `GET /ping`: the server is up (says nothing about credentials). */
  async healthCheck(): Promise<HealthProbe> {
    if (!this.client) return { ok: false, detail: 'not connected' };
    try {
      await this.client.transport.request('/ping', '', { method: 'GET', signal: this.ctx.signal });
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): Promise<void> {
    this.agent?.destroy();
    this.agent = undefined;
    this.client = undefined;
    return Promise.resolve();
  }

  /** Sends one request body; resolves on 204 with its bytes (before gzip). `signal` aborts the request. */
  private async post(body: string, signal: AbortSignal = this.ctx.signal): Promise<number> {
    const client = this.client;
    if (!client) throw new TransientError('connection closed during write', { code: 'BIFROST_ERR_NOT_CONNECTED' });
    await client.transport.request(this.path, body, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      gzipThreshold: this.config.gzip ? GZIP_THRESHOLD : undefined,
      signal,
    });
    return Buffer.byteLength(body);
  }
}
