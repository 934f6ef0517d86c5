// `bifrost run` defers Node's TLS, HTTPS and HTTP/2 modules until something uses them: a gateway
// with a plain HTTP API never loads them, one with an HTTPS API loads them and serves HTTPS. Both run
// the built command with a preload that records which of Node's own modules the process loaded.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTlsFixture } from '@bifrost/connector-testkit';
import { apiOnlyConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'bifrost-deferred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RECORDER = join(dir, 'record-modules.mjs');
writeFileSync(
  RECORDER,
  `import { writeFileSync } from 'node:fs';
process.on('exit', () => writeFileSync(process.env.MODULES_OUT, JSON.stringify(process.moduleLoadList)));`,
);

const DEFERRED = ['NativeModule tls', 'NativeModule https', 'NativeModule http2'];

/**
 * Runs `bifrost run` with the given `api:` lines until `ready` answers true, then stops it and
 * returns the modules it had loaded.
 */
async function runGateway(name: string, api: string[], ready: (port: number) => Promise<boolean>): Promise<string[]> {
  const port = await freePort();
  const config = join(dir, `${name}.yaml`);
  const modules = join(dir, `${name}.modules.json`);
  writeFileSync(config, apiOnlyConfig(port, api));
  const child = spawn(process.execPath, ['--import', RECORDER, CLI, 'run', '-c', config], {
    stdio: 'ignore',
    env: { ...process.env, MODULES_OUT: modules },
  });
  try {
    await waitUntil(`${name} gateway ready`, () => ready(port).catch(() => false), 30_000);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  return JSON.parse(readFileSync(modules, 'utf8')) as string[];
}

describe('builtins bifrost run defers', () => {
  it('are never loaded by a gateway with a plain HTTP API, which serves its API and metrics', async () => {
    const loaded = await runGateway('plain', [], async (port) => {
      const [ready, metrics] = await Promise.all([
        fetch(`http://127.0.0.1:${port}/ready`),
        fetch(`http://127.0.0.1:${port}/metrics`),
      ]);
      return ready.ok && metrics.ok && (await metrics.text()).includes('bifrost_');
    });
    expect(loaded).toContain('NativeModule http');
    for (const m of DEFERRED) expect(loaded).not.toContain(m);
  });

  it('are loaded when the API is served over HTTPS, and it is', async () => {
    const tls = createTlsFixture();
    writeFileSync(join(dir, 'api.pem'), tls.server.cert);
    writeFileSync(join(dir, 'api.key'), tls.server.key, { mode: 0o600 });
    let status = 0;
    const loaded = await runGateway(
      'https',
      ['tls:', `  cert_file: ${join(dir, 'api.pem')}`, `  key_file: ${join(dir, 'api.key')}`],
      (port) =>
        new Promise<boolean>((resolve, reject) => {
          request({ host: '127.0.0.1', port, path: '/ready', ca: tls.ca.cert, servername: 'localhost' }, (res) => {
            status = res.statusCode ?? 0;
            res.resume();
            resolve(status === 200);
          })
            .on('error', reject)
            .end();
        }),
    );
    expect(status).toBe(200);
    expect(loaded).toEqual(expect.arrayContaining(['NativeModule tls', 'NativeModule https']));
  });
});
