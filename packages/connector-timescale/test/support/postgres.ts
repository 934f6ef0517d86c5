import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * Interim PostgreSQL peer for this package's integration tests until the testkit's lands: a
 * throw-away cluster on 127.0.0.1 (random port, temp dir) with TLS (a generated CA and a server
 * certificate for 127.0.0.1/localhost), user `bifrost` / password `secret` (scram), database `bifrost`,
 * and user `bifrost_cert` who logs in over TLS with a client certificate only.
 */
export interface PostgresPeer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** A second, unrelated CA (for "wrong CA" tests). */
  otherCa: string;
  /** Client certificate and key (PEM) of `bifrost_cert`, signed by `ca`. */
  clientCert: { user: string; cert: string; key: string };
  /** Superuser connection settings (database `bifrost`). */
  adminConfig: pg.ClientConfig;
  admin(): pg.Client;
  restart(): Promise<void>;
  /** Stops the server, keeping its data and port, until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its files. */
  dispose(): Promise<void>;
}

export function postgresBinDir(): string | undefined {
  if (process.env.BIFROST_PG_BIN) return process.env.BIFROST_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** postgres refuses to run as root: run its programs as the `postgres` system user then. */
function asServerUser(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function makeCerts(dir: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=bifrost-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=other-ca', '-keyout', 'other.key', '-out', 'other.pem');
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt');
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=bifrost_cert', '-keyout', 'client.key', '-out', 'client.csr');
  openssl(dir, 'x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.crt');
}

export async function startPostgres(bin: string): Promise<PostgresPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  makeCerts(dir);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    for (const f of ['', 'server.key', 'server.crt', 'ca.pem']) chownSync(join(dir, f), uid, gid);
  }
  chmodSync(join(dir, 'server.key'), 0o600);
  chmodSync(dir, 0o755);
  const [initCmd, initArgs] = asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const init = spawnSync(initCmd, initArgs, { stdio: 'pipe' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  writeFileSync(join(data, 'postgresql.auto.conf'), [
    `listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`,
    `ssl = on`, `ssl_cert_file = '${dir}/server.crt'`, `ssl_key_file = '${dir}/server.key'`, `ssl_ca_file = '${dir}/ca.pem'`,
    `fsync = off`, `synchronous_commit = off`, `max_connections = 50`,
  ].join('\n') + '\n');
  writeFileSync(join(data, 'pg_hba.conf'), [
    'local all all trust', 'host all postgres 127.0.0.1/32 trust', 'hostssl all bifrost_cert 127.0.0.1/32 cert',
    'host all bifrost_cert 127.0.0.1/32 reject', 'host all all 127.0.0.1/32 scram-sha-256',
  ].join('\n') + '\n');
  let child: ChildProcess | undefined;
  const launch = async () => {
    const [cmd, args] = asServerUser(join(bin, 'postgres'), ['-D', data]);
    child = spawn(cmd, args, { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      try {
        await c.connect();
        await c.end();
        return;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const halt = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    // Signal the postmaster itself (runuser does not forward every signal); SIGINT = fast shutdown,
    // which does not wait for clients to disconnect.
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); process.kill(postmaster, 'SIGINT'); });
  };
  await launch();
  const admin = () => new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  const a = admin();
  await a.connect();
  await a.query(`CREATE ROLE bifrost LOGIN PASSWORD 'secret'`);
  await a.query('CREATE DATABASE bifrost OWNER bifrost');
  await a.query('CREATE ROLE bifrost_cert LOGIN IN ROLE bifrost');
  const inDb = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bifrost' });
  await inDb.connect();
  await inDb.query('GRANT ALL ON SCHEMA public TO bifrost_cert');
  await inDb.end();
  await a.end();
  return {
    host: '127.0.0.1', port, user: 'bifrost', password: 'secret', database: 'bifrost',
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    otherCa: readFileSync(join(dir, 'other.pem'), 'utf8'),
    clientCert: { user: 'bifrost_cert', cert: readFileSync(join(dir, 'client.crt'), 'utf8'), key: readFileSync(join(dir, 'client.key'), 'utf8') },
    adminConfig: { host: '127.0.0.1', port, user: 'postgres', database: 'bifrost' },
    admin: () => new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bifrost' }),
    restart: async () => { await halt(); await launch(); },
    stop: halt,
    start: launch,
    dispose: async () => { await halt(); rmSync(dir, { recursive: true, force: true }); },
  };
}
