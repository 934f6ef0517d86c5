// startGateway in-process with a third-party plugin loaded by path, the REST API over HTTPS with a
// bearer token from a *_file secret, and durability across a restart on the same SQLite queue.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'bifrost-gw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The lines of the JSONL sink file `out` so far (none while the file does not exist). */
function sinkLines(out: string): string[] {
  return existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : [];
}

/** `body` is the parsed JSON answer, declared `T` by the caller. */
function httpsJson<T = unknown>(
  url: string,
  opts: { method?: string; body?: unknown; token?: string; ca: string },
): Promise<{ status: number; body: T | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca,
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as T) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

describe('gateway in-process', () => {
  it('HTTPS + token from token_file, a third-party plugin by path, points in the sink file', async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    writeFileSync(join(dir, 'token.txt'), 'gw-test-token-123\n');
    const out = join(dir, 'out.jsonl');
    writeFileSync(
      join(dir, 'gateway.yaml'),
      [
        'gateway:',
        '  throughput_log_interval: 0',
        '  api: { port: 0, token_file: token.txt, tls: { cert_file: cert.pem, key_file: key.pem } }',
        '  cloud:',
        '    batch_timeout: 10ms',
        '    queue: { path: ./queue }',
        '    connectors:',
        '      file:',
        '        type: jsonl',
        `        plugin: ${join(import.meta.dirname, 'fixtures', 'bifrost-connector-jsonl')}`,
        `        provider_config: { path: ${out}, token: sink-secret-456 }`,
        '',
      ].join('\n'),
    );
    const ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const loaded = loadConfigFile(join(dir, 'gateway.yaml'));
    expect(loaded.issues).toEqual([]);
    const gw = await startGateway(loaded, { logger: pino({ level: 'silent' }) });
    try {
      expect(gw.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect((await httpsJson(`${gw.apiUrl}/health`, { ca })).status).toBe(200);
      expect(
        (
          await httpsJson(`${gw.apiUrl}/api/data`, {
            method: 'POST',
            ca,
            body: [{ deviceId: 'd', tagName: 't', value: 1 }],
          })
        ).status,
      ).toBe(401);
      const ok = await httpsJson<{ ids: string[] }>(`${gw.apiUrl}/api/data`, {
        method: 'POST',
        ca,
        token: 'gw-test-token-123',
        body: Array.from({ length: 20 }, (_, i) => ({ deviceId: 'd', tagName: 't', value: i })),
      });
      expect(ok.status).toBe(200);
      const prom = await gw.pipeline.registry.metrics();
      expect(prom).toContain('bifrost_process_resident_memory_bytes');
      expect(prom).toContain('bifrost_nodejs_eventloop_lag_seconds');
      const cfg = await httpsJson<{ config: { provider_config: { token: string } } }>(
        `${gw.apiUrl}/api/cloud/connectors/file/config`,
        { ca, token: 'gw-test-token-123' },
      );
      expect(cfg.body?.config.provider_config.token).toBe('***');
      await vi.waitFor(() => expect(sinkLines(out), 'points in the sink').toHaveLength(20), {
        timeout: 10_000,
        interval: 20,
      });
      const ids = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id);
      expect(ids.sort()).toEqual([...(ok.body?.ids ?? [])].sort());
    } finally {
      await gw.stop();
    }
  }, 30_000);

  it('points queued while the sink fails survive a restart and are delivered by the next run', async () => {
    const out = join(dir, 'blocked', 'out.jsonl'); // the directory does not exist yet: connect fails
    const yaml = (sinkPath: string) =>
      [
        'gateway:',
        '  throughput_log_interval: 0',
        '  api: { port: 0 }',
        '  shutdown_timeout: 1s',
        '  cloud:',
        '    batch_timeout: 10ms',
        '    queue: { path: ./queue2 }',
        '    connectors:',
        '      file:',
        '        type: jsonl',
        '        plugin: ' + join(import.meta.dirname, 'fixtures', 'bifrost-connector-jsonl'),
        '        retry_delay: 50ms',
        `        provider_config: { path: ${sinkPath} }`,
        '',
      ].join('\n');
    writeFileSync(join(dir, 'gw2.yaml'), yaml(out));
    const first = await startGateway(loadConfigFile(join(dir, 'gw2.yaml')), { logger: pino({ level: 'silent' }) });
    const res = await fetch(`${first.apiUrl}/api/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { deviceId: 'd', tagName: 't', value: 1 },
        { deviceId: 'd', tagName: 't', value: 2 },
      ]),
    });
    expect(res.status).toBe(200);
    const { ids } = (await res.json()) as { ids: string[] };
    await first.stop();

    mkdirSync(join(dir, 'blocked'));
    const second = await startGateway(loadConfigFile(join(dir, 'gw2.yaml')), { logger: pino({ level: 'silent' }) });
    try {
      await vi.waitFor(
        () => expect(sinkLines(out).length, 'queued points delivered after the restart').toBeGreaterThanOrEqual(2),
        { timeout: 10_000, interval: 20 },
      );
      expect(
        readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { id: string }).id)
          .sort(),
      ).toEqual([...ids].sort());
    } finally {
      await second.stop();
    }
  }, 30_000);
});

describe('busy ports', () => {
  it('a taken embedded broker port or API port is a clear error naming the setting', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      writeFileSync(
        join(dir, 'busy1.yaml'),
        `gateway:\n  api: { port: 0 }\n  embedded_broker: { enabled: true, port: ${port} }\n`,
      );
      await expect(
        startGateway(loadConfigFile(join(dir, 'busy1.yaml')), { logger: pino({ level: 'silent' }) }),
      ).rejects.toThrow(/embedded_broker: 127\.0\.0\.1:\d+ is already in use/);
      writeFileSync(join(dir, 'busy2.yaml'), `gateway:\n  port: ${port}\n`);
      await expect(
        startGateway(loadConfigFile(join(dir, 'busy2.yaml')), { logger: pino({ level: 'silent' }) }),
      ).rejects.toThrow(/api: 127\.0\.0\.1:\d+ is already in use; set gateway.port/);
    } finally {
      blocker.close();
    }
  });
});
