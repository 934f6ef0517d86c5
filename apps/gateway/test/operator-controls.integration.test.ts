import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayProcess } from './support/gateway-process.js';
import { freePort } from './support/net.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const TOKEN = 'operator-token-1234';

async function bifrost(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Seed 002's operator controls on a real `bifrost run`: a connection test and a breaker reset,
 * over REST (behind the API token) and from the CLI. `up` publishes to the embedded broker; `down`
 * points at a closed port, so its breaker opens.
 */
describe('operator controls: connection test and breaker reset', () => {
  let dir: string;
  let config: string;
  let gateway: GatewayProcess;
  let api: string;
  const call = (path: string, token: string | null = TOKEN) =>
    fetch(`${api}${path}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-operator-'));
    const [apiPort, brokerPort, closedPort] = await Promise.all([freePort(), freePort(), freePort()]);
    api = `http://127.0.0.1:${apiPort}`;
    config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        `  port: ${apiPort}`,
        '  log_level: warn',
        '  throughput_log_interval: 0',
        '  shutdown_timeout: 2s',
        `  api: { host: 127.0.0.1, token: ${TOKEN} }`,
        `  embedded_broker: { enabled: true, host: 127.0.0.1, port: ${brokerPort} }`,
        '  cloud:',
        '    batch_timeout: 20ms',
        `    queue: { path: ${JSON.stringify(dir)} }`,
        '    connectors:',
        '      up: { type: mqtt, endpoint: embedded, timeout: 2s }',
        `      down: { type: mqtt, endpoint: "mqtt://127.0.0.1:${closedPort}", timeout: 2s, breaker: { failure_threshold: 1, reset: 10m } }`,
        '',
      ].join('\n'),
    );
    gateway = new GatewayProcess(config, api, TOKEN);
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.stop('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('POST /api/cloud/connectors/{name}/test answers with the result and the classified error, behind the token', async () => {
    expect((await call('/api/cloud/connectors/up/test', null)).status).toBe(401);
    const up = await call('/api/cloud/connectors/up/test');
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ name: 'up', ok: true });
    const down = await call('/api/cloud/connectors/down/test');
    expect(await down.json()).toMatchObject({
      name: 'down',
      ok: false,
      error: { kind: 'transient', code: 'BIFROST_ERR_NET_ECONNREFUSED' },
    });
    expect((await call('/api/cloud/connectors/nope/test')).status).toBe(404);
  });

  it('bifrost test-connection checks each connector before deployment and exits 1 when one fails', async () => {
    const ok = await bifrost('test-connection', '-c', config, 'up');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^up \(mqtt\): OK in [\d.]+ ms/);
    const all = await bifrost('test-connection', '-c', config);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/down \(mqtt\): FAILED after [\d.]+ ms: transient BIFROST_ERR_NET_ECONNREFUSED/);
  });

  it('an open breaker is reset over REST and from the CLI, behind the token', async () => {
    await fetch(`${api}/api/cloud/connectors/down/data`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: 'd', tagName: 't', value: 1 }),
    });
    const breakerOf = async () => {
      const res = await fetch(`${api}/api/cloud/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const health = (await res.json()) as { connectors: Array<{ name: string; breaker: string }> };
      return health.connectors.find((c) => c.name === 'down')?.breaker;
    };
    await vi.waitFor(async () => expect(await breakerOf()).toBe('open'), { timeout: 15_000, interval: 100 });
    expect((await call('/api/cloud/connectors/down/breaker/reset', 'wrong')).status).toBe(401);
    const rest = await call('/api/cloud/connectors/down/breaker/reset');
    expect(await rest.json()).toMatchObject({ name: 'down', reset: true });
    await vi.waitFor(async () => expect(await breakerOf()).toBe('open'), { timeout: 15_000, interval: 100 });
    const cli = await bifrost('breaker', 'reset', 'down', '-c', config);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^down: breaker reset, now (closed|half-open|open)/);
  });
});
