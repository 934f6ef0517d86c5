import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { binaryNotFound } from './binaries.js';
import { influxdV2Binary, influxQl, influxRequest, type InfluxReply, type InfluxRow } from './influxdb.js';
import { startProcessPeer, type ProcessPeer } from './process-peer.js';
import type { ServerTlsPem } from '../tls/fixture.js';
import { writeServerTlsFiles } from './server-tls-files.js';

export interface InfluxV2Options {
  /** Serves HTTPS (only) with this certificate. */
  tls?: ServerTlsPem;
  /** Created by the initial setup (defaults: `plant`, `bifrost`, user `admin`, random password and token). */
  org?: string;
  bucket?: string;
  admin?: { username: string; password: string };
  token?: string;
}

/** A running InfluxDB 2.x, set up with one organization, bucket, admin user and all-access token. */
export interface InfluxV2Peer extends ProcessPeer<'http'> {
  /** `http://127.0.0.1:<port>`, or `https://localhost:<port>` with `tls`. */
  readonly url: string;
  readonly org: string;
  readonly bucket: string;
  readonly admin: { username: string; password: string };
  /** The admin's all-access API token. */
  readonly token: string;
  /**
   * Runs InfluxQL through the 1.x-compatible `/query` with the token (the bucket is mapped as
   * database `bucket` by InfluxDB's virtual DBRP mapping); rows of the first statement's series.
   */
  query(q: string): Promise<InfluxRow[]>;
}

/**
 * Starts InfluxDB 2.x (`influxd` of `scripts/peers/influxdb-v2.sh`) with its bolt, engine and SQLite
 * files in its temp dir and HTTP(S) on 127.0.0.1, then runs the initial setup (`POST /api/v2/setup`).
 * Gate tests with `requirePeer('influxdb 2.x', influxdV2Binary)`.
 *
 * @example
 * const influx = await startInfluxV2();
 * // connector config: { version: '2.x', url: influx.url, organization: influx.org, bucket: influx.bucket, token: influx.token }
 */
export async function startInfluxV2(opts: InfluxV2Options = {}): Promise<InfluxV2Peer> {
  const bin = influxdV2Binary();
  if (!bin) throw binaryNotFound('influxd 2.x (bash scripts/peers/influxdb-v2.sh builds it)');
  const org = opts.org ?? 'plant';
  const bucket = opts.bucket ?? 'bifrost';
  const admin = opts.admin ?? { username: 'admin', password: randomBytes(12).toString('base64url') };
  const token = opts.token ?? randomBytes(24).toString('base64url');
  let base = '';
  const call = (method: 'GET' | 'POST', path: string, body?: string, contentType?: string): Promise<InfluxReply> =>
    influxRequest(base, method, path, {
      authorization: `Token ${token}`,
      ...(body !== undefined && { body }),
      ...(contentType && { contentType }),
      ...(opts.tls && { ca: opts.tls.caPem }),
    });

  const peer = await startProcessPeer<'http'>({
    name: 'influxdb-v2',
    command: bin,
    ports: ['http'],
    args: ({ dir, ports }) => [
      '--bolt-path',
      join(dir, 'influxd.bolt'),
      '--engine-path',
      join(dir, 'engine'),
      '--sqlite-path',
      join(dir, 'influxd.sqlite'),
      '--http-bind-address',
      `127.0.0.1:${ports.http}`,
      '--reporting-disabled',
      '--log-level',
      'warn',
      ...(opts.tls ? ['--tls-cert', join(dir, 'tls', 'server.pem'), '--tls-key', join(dir, 'tls', 'server.key')] : []),
    ],
    prepare(ctx) {
      base = opts.tls ? `https://localhost:${ctx.ports.http}` : `http://127.0.0.1:${ctx.ports.http}`;
      if (opts.tls) writeServerTlsFiles(ctx.dir, opts.tls);
    },
    ready: async () => {
      try {
        return (await call('GET', '/health')).status === 200;
      } catch {
        return false;
      }
    },
  });
  try {
    const setup = await call(
      'POST',
      '/api/v2/setup',
      JSON.stringify({ username: admin.username, password: admin.password, org, bucket, token }),
      'application/json',
    );
    if (setup.status !== 201)
      throw new Error(`[testkit] influxdb 2.x: initial setup failed: HTTP ${setup.status} ${setup.body}`);
  } catch (err) {
    await peer.dispose();
    throw err;
  }
  return Object.assign(peer, {
    url: base,
    org,
    bucket,
    admin,
    token,
    query: (q: string) => influxQl(call, q, bucket),
  });
}
