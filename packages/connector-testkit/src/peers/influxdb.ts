import { accessSync, constants, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { binaryNotFound, findBinary, peersDir } from './binaries.js';
import { startProcessPeer, type PeerContext, type ProcessPeer } from './process-peer.js';
import type { ServerTlsPem } from '../tls/fixture.js';
import { writeServerTlsFiles } from './server-tls-files.js';

export interface InfluxOptions {
  /**
   * The `influxd` to run (default {@link influxdBinary}, InfluxDB 1.x). Pass {@link influxd2Binary}
   * for the 1.8 build that also serves the 2.x write API (`/api/v2/write`).
   */
  binary?: string;
  /** Serves HTTPS (only) on the HTTP port with this certificate. */
  tls?: ServerTlsPem;
  /** The admin user created at first start (default `admin` with a random password). */
  admin?: { username: string; password: string };
  /** Database created at first start (default `bifrost`). */
  database?: string;
}

type InfluxPort = 'http' | 'rpc';

/** One row of a query result: column name to value. */
export type InfluxRow = Record<string, unknown>;

/** A running InfluxDB 1.x with auth on, loopback HTTP(S) and RPC ports, data in its temp dir. */
export interface InfluxPeer extends ProcessPeer<InfluxPort> {
  /** `http://127.0.0.1:<port>`, or `https://localhost:<port>` with `tls`. */
  readonly url: string;
  readonly admin: { username: string; password: string };
  readonly database: string;
  /** Runs InfluxQL as the admin (in `database` unless given); rows of the first statement's series. Throws the server's error. */
  query(q: string, database?: string): Promise<InfluxRow[]>;
  /** Writes line protocol (precision ms) as the admin; throws unless the server answers 204. */
  writeLines(lines: string, database?: string): Promise<void>;
}

/** The `influxd` binary (InfluxDB 1.x: Debian package `influxdb`; `$BIFROST_INFLUXD` overrides). */
export function influxdBinary(): string | undefined {
  return findBinary('influxd', { env: 'BIFROST_INFLUXD' });
}

/**
 * InfluxDB 1.8 built by `scripts/peers/influxdb2.sh` (`$BIFROST_PEERS_DIR/influxd-1.8/influxd`;
 * `$BIFROST_INFLUXD2` overrides): it also serves the 2.x write API `/api/v2/write` (bucket `db/rp`,
 * token `user:password`), which Debian's 1.6 lacks. Gate 2.x API tests on it with `requirePeer`.
 */
export function influxd2Binary(): string | undefined {
  return builtBinary(process.env.BIFROST_INFLUXD2 || join(peersDir(), 'influxd-1.8', 'influxd'));
}

/**
 * InfluxDB 2.7 built by `scripts/peers/influxdb-v2.sh` (`$BIFROST_PEERS_DIR/influxd-2.7/influxd`;
 * `$BIFROST_INFLUXD_V2` overrides): the real 2.x server with organizations, buckets and tokens.
 * Start it with `startInfluxV2`.
 */
export function influxdV2Binary(): string | undefined {
  return builtBinary(process.env.BIFROST_INFLUXD_V2 || join(peersDir(), 'influxd-2.7', 'influxd'));
}

function builtBinary(candidate: string): string | undefined {
  try {
    accessSync(candidate, constants.X_OK);
    return candidate;
  } catch {
    return undefined;
  }
}

function influxConf(ctx: PeerContext<InfluxPort>, tls: boolean): string {
  const d = ctx.dir;
  return `reporting-disabled = true
bind-address = "127.0.0.1:${ctx.ports.rpc}"
[meta]
  dir = "${d}/meta"
[data]
  dir = "${d}/data"
  wal-dir = "${d}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${ctx.ports.http}"
  auth-enabled = true
  log-enabled = false
  https-enabled = ${tls}
  https-certificate = "${d}/tls/server.pem"
  https-private-key = "${d}/tls/server.key"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
  suppress-logo = true
`;
}

/** An HTTP reply from influxd. */
export interface InfluxReply {
  status: number;
  body: string;
}

/**
 * One request to influxd at `base` (http or https, trusting `ca`): resolves with any status, rejects
 * on network errors and after 10 s. Shared by the 1.x and 2.x peers.
 */
export function influxRequest(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: string; contentType?: string; authorization?: string; ca?: string } = {},
): Promise<InfluxReply> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const headers: Record<string, string> = {};
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/x-www-form-urlencoded';
    if (opts.authorization) headers.authorization = opts.authorization;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers, timeout: 10_000, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`[testkit] influxdb ${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Runs InfluxQL through `/query` (epoch ms) and returns the rows of the first statement's series; throws the server's error. */
export async function influxQl(
  call: (method: 'POST', path: string, body: string) => Promise<InfluxReply>,
  q: string,
  db: string,
): Promise<InfluxRow[]> {
  const reply = await call('POST', '/query', new URLSearchParams({ q, db, epoch: 'ms' }).toString());
  const parsed = JSON.parse(reply.body || '{}') as {
    error?: string;
    results?: Array<{ error?: string; series?: Array<{ columns: string[]; values: unknown[][] }> }>;
  };
  const first = parsed.results?.[0];
  const error = parsed.error ?? first?.error ?? (reply.status >= 300 ? `HTTP ${reply.status}` : undefined);
  if (error) throw new Error(`[testkit] influxdb: ${q.slice(0, 200)} failed: ${error}`);
  return (first?.series ?? []).flatMap((s) =>
    s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))),
  );
}

/**
 * Starts InfluxDB 1.x (`influxd run -config`) with its own config, meta/data/wal dirs, HTTP auth on
 * and both the HTTP and RPC bind addresses on 127.0.0.1; creates the admin user and the database.
 * Gate tests with `requirePeer('influxdb', influxdBinary)`.
 *
 * @example
 * const influx = await startInflux();
 * await influx.query('SELECT * FROM temperature'); // as the admin, in influx.database
 */
export async function startInflux(opts: InfluxOptions = {}): Promise<InfluxPeer> {
  const bin = opts.binary ?? influxdBinary();
  if (!bin) throw binaryNotFound('influxd (InfluxDB 1.x, Debian package influxdb)');
  const admin = opts.admin ?? { username: 'admin', password: randomBytes(12).toString('base64url') };
  const database = opts.database ?? 'bifrost';
  let base = '';
  const basic = `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}`;
  const call = (method: 'GET' | 'POST', path: string, body?: string, auth = true): Promise<InfluxReply> =>
    influxRequest(base, method, path, {
      ...(body !== undefined && { body }),
      ...(auth && { authorization: basic }),
      ...(opts.tls && { ca: opts.tls.caPem }),
    });

  const peer = await startProcessPeer<InfluxPort>({
    name: 'influxdb',
    command: bin,
    ports: ['http', 'rpc'],
    args: ({ dir }) => ['run', '-config', join(dir, 'influxd.conf')],
    prepare(ctx) {
      base = opts.tls ? `https://localhost:${ctx.ports.http}` : `http://127.0.0.1:${ctx.ports.http}`;
      if (opts.tls) writeServerTlsFiles(ctx.dir, opts.tls);
      writeFileSync(join(ctx.dir, 'influxd.conf'), influxConf(ctx, !!opts.tls));
    },
    ready: async () => {
      try {
        return (await call('GET', '/ping', undefined, false)).status === 204;
      } catch {
        return false;
      }
    },
  });

  const query = (q: string, db = database): Promise<InfluxRow[]> => influxQl(call, q, db);
  try {
    // With auth on, the first admin may be created without credentials (and only then).
    const created = await call(
      'POST',
      '/query',
      new URLSearchParams({
        q: `CREATE USER "${admin.username}" WITH PASSWORD '${admin.password.replaceAll("'", "\\'")}' WITH ALL PRIVILEGES`,
      }).toString(),
      false,
    );
    if (created.status !== 200 || created.body.includes('"error"'))
      throw new Error(`[testkit] influxdb: creating the admin user failed: ${created.body}`);
    await query(`CREATE DATABASE "${database}"`);
  } catch (err) {
    await peer.dispose();
    throw err;
  }
  return Object.assign(peer, {
    url: base,
    admin,
    database,
    query,
    async writeLines(lines: string, db = database) {
      const reply = await call('POST', `/write?${new URLSearchParams({ db, precision: 'ms' }).toString()}`, lines);
      if (reply.status !== 204) throw new Error(`[testkit] influxdb write failed: HTTP ${reply.status} ${reply.body}`);
    },
  });
}
