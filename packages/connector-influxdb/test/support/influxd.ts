import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Interim InfluxDB 1.x peer for this package's integration tests until the testkit's InfluxDB peer
 * lands: `influxd` on 127.0.0.1 (random port, temp dir, auth on, admin user and database created).
 * `BIFROST_INFLUXD` names another binary (an InfluxDB 1.8+ build serves `/api/v2/write` too).
 */
export interface InfluxPeer {
  url: string;
  username: string;
  password: string;
  database: string;
  /** True when the server answers `/api/v2/write` (InfluxDB 1.8+). */
  v2: boolean;
  query(q: string): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
  restart(): Promise<void>;
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

async function waitForPing(url: string, deadline = Date.now() + 20_000): Promise<void> {
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/ping`)).status === 204) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`influxd at ${url} did not answer /ping`);
}

export async function startInfluxd(binary: string): Promise<InfluxPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'bifrost-influxd-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
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
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`);
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(binary, ['run', '-config', join(dir, 'influxd.conf')], { stdio: 'ignore' });
    await waitForPing(url);
  };
  const halt = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); });
  };
  const auth = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
  const rawQuery = async (q: string, db?: string) => {
    const body = new URLSearchParams({ q, ...(db ? { db } : {}) });
    const res = await fetch(`${url}/query`, { method: 'POST', body, headers: auth });
    return (await res.json()) as { results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }>; error?: string }> };
  };
  await launch();
  await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: "CREATE USER admin WITH PASSWORD 'secret' WITH ALL PRIVILEGES" }) });
  await rawQuery('CREATE DATABASE bifrost');
  const v2 = (await fetch(`${url}/api/v2/write?bucket=bifrost`, { method: 'POST', body: '', headers: { authorization: 'Token admin:secret' } })).status === 204;
  return {
    url, username: 'admin', password: 'secret', database: 'bifrost', v2,
    async query(q) {
      const res = await rawQuery(q, 'bifrost');
      const r = res.results[0];
      if (r?.error) throw new Error(r.error);
      return (r?.series ?? []).flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
  };
}
