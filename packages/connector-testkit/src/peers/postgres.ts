import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { binaryNotFound, postgresBinDir } from './binaries.js';
import { startProcessPeer, type PeerContext, type ProcessPeer } from './process-peer.js';
import type { ServerTlsPem } from '../tls/fixture.js';
import { writeServerTlsFiles } from './server-tls-files.js';

const run = promisify(execFile);

export interface PostgresUser {
  username: string;
  password: string;
}

export interface PostgresOptions {
  /** Turns `ssl` on with this certificate; the CA is also `ssl_ca_file` (client certificates). */
  tls?: ServerTlsPem;
  /** TCP clients must use TLS and present a client certificate signed by the CA (besides the password). */
  requireClientCert?: boolean;
  /** Login role owning `database`; default `bifrost` with a random password. */
  user?: PostgresUser;
  /** Database created for `user` (default `bifrost`). */
  database?: string;
  /**
   * Load TimescaleDB (`shared_preload_libraries`) and create the extension in `database`: `true`
   * requires it, `'auto'` (default) uses it when installed.
   */
  timescale?: boolean | 'auto';
  /** Extra `postgresql.conf` settings. */
  conf?: Record<string, string | number | boolean>;
}

/** A running PostgreSQL cluster of its own (initdb in its temp dir) on 127.0.0.1. */
export interface PostgresPeer extends ProcessPeer<'postgres'> {
  readonly port: number;
  readonly user: PostgresUser;
  readonly database: string;
  /** The `postgres` superuser (password auth over TCP, trust over the peer's unix socket). */
  readonly superuser: PostgresUser;
  /** `postgres://user:pass@127.0.0.1:<port>/<database>` */
  readonly url: string;
  /** True when TimescaleDB is loaded and the extension exists in `database`. */
  readonly timescale: boolean;
  /** Runs SQL as the superuser through `psql -At` (unix socket); returns its output, throws with psql's error. */
  sql(query: string, database?: string): Promise<string>;
  /** Creates a database (owned by `owner`, default the peer's user), with the TimescaleDB extension when loaded. */
  createDatabase(name: string, owner?: string): Promise<void>;
}

/** The server programs dir (see {@link postgresBinDir}) or why PostgreSQL cannot run here. */
export function postgresInstallation(): string | { missing: string } {
  const bin = postgresBinDir();
  if (!bin)
    return {
      missing: 'PostgreSQL server (postgres, initdb) not found in /usr/lib/postgresql/<v>/bin or $BIFROST_PG_BIN',
    };
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) {
    return { missing: 'tests run as root but there is no `postgres` system user to run the server as' };
  }
  return bin;
}

/** Whether the TimescaleDB library for this PostgreSQL is installed. */
export function timescaleAvailable(bin: string): boolean {
  const lib = join(bin, '..', 'lib');
  return existsSync(lib) && readdirSync(lib).some((f) => /^timescaledb(-[\d.]+)?\.so$/.test(f));
}

const quoteLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;
const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;

function postgresConf(ctx: PeerContext<'postgres'>, opts: PostgresOptions, timescale: boolean): string {
  const conf: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    port: ctx.ports.postgres,
    unix_socket_directories: ctx.dir,
    max_connections: 100,
    // Throw-away cluster: skip fsync (only an OS crash could lose data); commits stay synchronous,
    // so a COMMIT the connector saw survives the server being killed.
    fsync: false,
    full_page_writes: false,
    logging_collector: false,
    log_destination: 'stderr',
    log_min_messages: 'warning',
    log_connections: false,
  };
  if (opts.tls) {
    Object.assign(conf, {
      ssl: true,
      ssl_cert_file: join(ctx.dir, 'tls', 'server.pem'),
      ssl_key_file: join(ctx.dir, 'tls', 'server.key'),
      ssl_ca_file: join(ctx.dir, 'tls', 'ca.pem'),
    });
  }
  if (timescale) Object.assign(conf, { shared_preload_libraries: 'timescaledb', 'timescaledb.telemetry_level': 'off' });
  Object.assign(conf, opts.conf);
  return (
    Object.entries(conf)
      .map(
        ([k, v]) =>
          `${k} = ${typeof v === 'string' ? quoteLiteral(v) : typeof v === 'boolean' ? (v ? 'on' : 'off') : v}`,
      )
      .join('\n') + '\n'
  );
}

function hba(opts: PostgresOptions): string {
  const tcp = opts.requireClientCert
    ? ['hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca', 'hostnossl all all 127.0.0.1/32 reject']
    : ['host all all 127.0.0.1/32 scram-sha-256'];
  return ['local all all trust', ...tcp].join('\n') + '\n';
}

/**
 * Starts a PostgreSQL cluster: initdb in the peer's temp dir (as the `postgres` user when tests run
 * as root), its own port on 127.0.0.1 and unix socket dir, scram-sha-256 passwords over TCP, TLS
 * with the run's certificate, a login role and database, TimescaleDB when installed. Gate tests
 * with `requirePeer('postgres', postgresInstallation)`.
 *
 * @example
 * const pg = await startPostgres({ tls: tls.serverTls() });
 * // new pg.Client({ connectionString: pg.url, ssl: { ca: tls.ca.cert, servername: 'localhost' } })
 * await pg.restart(); await pg.dispose();
 */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresPeer> {
  const found = postgresInstallation();
  if (typeof found !== 'string') throw binaryNotFound(found.missing);
  const bin = found;
  const installed = timescaleAvailable(bin);
  if (opts.timescale === true && !installed) throw binaryNotFound(`TimescaleDB for ${bin}`);
  const timescale = opts.timescale !== false && installed;
  const user = opts.user ?? { username: 'bifrost', password: randomBytes(12).toString('base64url') };
  const superuser = { username: 'postgres', password: randomBytes(12).toString('base64url') };
  const database = opts.database ?? 'bifrost';
  const data = (ctx: PeerContext) => join(ctx.dir, 'data');

  const peer = await startProcessPeer<'postgres'>({
    name: 'postgres',
    command: join(bin, 'postgres'),
    ports: ['postgres'],
    runAs: 'postgres',
    args: (ctx) => ['-D', data(ctx)],
    stopSignal: 'SIGINT', // fast shutdown: does not wait for clients to disconnect
    startTimeoutMs: 60_000,
    prepare(ctx) {
      const pwfile = join(ctx.dir, 'superuser.pw');
      writeFileSync(pwfile, superuser.password, { mode: 0o644 });
      const init = spawnSync(
        join(bin, 'initdb'),
        [
          '-D',
          data(ctx),
          '-U',
          superuser.username,
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C',
          '--no-sync',
        ],
        { encoding: 'utf8', cwd: ctx.dir, ...(ctx.osUser ?? {}) },
      );
      if (init.status !== 0) throw new Error(`[testkit] initdb failed:\n${init.stdout}${init.stderr}`);
      if (opts.tls) writeServerTlsFiles(ctx.dir, opts.tls);
      writeFileSync(join(data(ctx), 'postgresql.auto.conf'), postgresConf(ctx, opts, timescale));
      writeFileSync(join(data(ctx), 'pg_hba.conf'), hba(opts));
    },
    ready: (ctx) =>
      spawnSync(join(bin, 'pg_isready'), ['-q', '-h', ctx.dir, '-p', String(ctx.ports.postgres)]).status === 0,
  });

  const sql = async (query: string, db = 'postgres'): Promise<string> => {
    try {
      const { stdout } = await run(
        join(bin, 'psql'),
        [
          '-X',
          '-At',
          '-v',
          'ON_ERROR_STOP=1',
          '-h',
          peer.dir,
          '-p',
          String(peer.ports.postgres),
          '-U',
          superuser.username,
          '-d',
          db,
          '-c',
          query,
        ],
        { encoding: 'utf8' },
      );
      return stdout.trim();
    } catch (err) {
      throw new Error(
        `[testkit] postgres: ${query.slice(0, 200)} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`,
      );
    }
  };
  const createDatabase = async (name: string, owner = user.username) => {
    await sql(`CREATE DATABASE ${quoteIdent(name)} OWNER ${quoteIdent(owner)}`);
    if (timescale) await sql('CREATE EXTENSION IF NOT EXISTS timescaledb', name);
  };
  try {
    await sql(`CREATE ROLE ${quoteIdent(user.username)} LOGIN PASSWORD ${quoteLiteral(user.password)}`);
    await createDatabase(database);
  } catch (err) {
    await peer.dispose();
    throw err;
  }
  const auth = `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}`;
  return Object.assign(peer, {
    port: peer.ports.postgres,
    user,
    database,
    superuser,
    url: `postgres://${auth}@127.0.0.1:${peer.ports.postgres}/${encodeURIComponent(database)}`,
    timescale,
    sql,
    createDatabase,
  });
}
