import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Interim InfluxDB 1.x peer for this package's integration tests until the testkit's InfluxDB peer
 * lands: `influxd` on 127.0.0.1 (random port, temp dir, auth on, admin user and database created),
 * HTTP or, with `tls`, HTTPS with a generated self-signed certificate. `BIFROST_INFLUXD` names
 * another binary (an InfluxDB 1.8+ build serves `/api/v2/write` too).
 */
export interface InfluxPeer {
  url: string;
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
  /** PEM of the self-signed server certificate (its own CA) when started with `tls`. */
  ca?: string;
  /** PEM of an unrelated self-signed certificate, for "untrusted CA" checks. */
  otherCa?: string;
  /** True when the server answers `/api/v2/write` (InfluxDB 1.8+). */
  v2: boolean;
  /** Rows of an InfluxQL query on the database (`epoch=ms` timestamps). */
  query(q: string): Promise<Array<Record<string, unknown>>>;
  /** Stops the server, keeping its data and port, until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its files. */
  dispose(): Promise<void>;
}

export function influxdBinary(): string | undefined {
  const candidates = [process.env.BIFROST_INFLUXD, 'influxd'].filter((c): c is string => !!c);
  return candidates.find((c) => spawnSync(c, ['version']).status === 0);
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

interface Answer { status: number; text: string }

/** The harness's own HTTP(S) calls; the certificate is not checked here (the connector under test does that). */
function call(url: string, method: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, {
      method, rejectUnauthorized: false, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function selfSigned(dir: string, name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', `${name}.key`, '-out', `${name}.pem`], { cwd: dir, stdio: 'ignore' });
}

export async function startInfluxd(binary: string, opts: { tls?: boolean } = {}): Promise<InfluxPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'bifrost-influxd-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  if (opts.tls) {
    selfSigned(dir, 'server');
    selfSigned(dir, 'other');
  }
  await writeFile(join(dir, 'influxd.conf'), `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = true
  log-enabled = false
${opts.tls ? `  https-enabled = true\n  https-certificate = "${dir}/server.pem"\n  https-private-key = "${dir}/server.key"\n` : ''}[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`);
  const auth = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(binary, ['run', '-config', join(dir, 'influxd.conf')], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const up = await call(`${url}/ping`, 'GET', '').then((a) => a.status === 204, () => false);
      if (up) return;
      if (Date.now() > deadline) throw new Error(`influxd at ${url} did not answer /ping`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const halt = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); });
  };
  const query = async (q: string, db?: string) => {
    const body = new URLSearchParams({ q, epoch: 'ms', ...(db ? { db } : {}) }).toString();
    const answer = await call(`${url}/query`, 'POST', body, auth);
    return JSON.parse(answer.text) as { results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }>; error?: string }> };
  };
  await launch();
  await call(`${url}/query`, 'POST', new URLSearchParams({ q: "CREATE USER admin WITH PASSWORD 'secret' WITH ALL PRIVILEGES" }).toString());
  await query('CREATE DATABASE bifrost');
  const v2 = (await call(`${url}/api/v2/write?bucket=bifrost`, 'POST', '', { authorization: 'Token admin:secret' })).status === 204;
  return {
    url, host: '127.0.0.1', port: httpPort, username: 'admin', password: 'secret', database: 'bifrost', v2,
    ca: opts.tls ? await readFile(join(dir, 'server.pem'), 'utf8') : undefined,
    otherCa: opts.tls ? await readFile(join(dir, 'other.pem'), 'utf8') : undefined,
    async query(q) {
      const r = (await query(q, 'bifrost')).results[0];
      if (r?.error) throw new Error(r.error);
      return (r?.series ?? []).flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
    },
    stop: halt,
    start: launch,
    async restart() {
      await halt();
      await launch();
    },
    async dispose() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
