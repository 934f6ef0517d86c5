// The embedded default as a new user runs it: `bifrost run` on examples/gateway.yaml (ports and data
// dir moved to temp values), readings visible to an MQTT client, graceful stop on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, waitUntil } from './support/net.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'examples', 'gateway.yaml');
const dir = mkdtempSync(join(tmpdir(), 'bifrost-embedded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded default (examples/gateway.yaml)', () => {
  it('publishes simulated readings to the embedded broker, serves the API and stops cleanly on SIGTERM', async () => {
    const apiPort = await freePort();
    const brokerPort = await freePort();
    const config = readFileSync(EXAMPLE, 'utf8')
      .replace('  port: 8080', `  port: ${apiPort}`)
      .replace('port: 1883', `port: ${brokerPort}`)
      .replace('path: ../data', `path: ${join(dir, 'data')}`)
      .replace('throughput_log_interval: 10s', 'throughput_log_interval: 1s');
    expect(config).toContain(`port: ${brokerPort}`);
    writeFileSync(join(dir, 'gateway.yaml'), config);

    const child = spawn(process.execPath, [CLI, 'run', '-c', join(dir, 'gateway.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d: Buffer) => {
      log += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitUntil(
        'gateway ready',
        () =>
          fetch(`http://127.0.0.1:${apiPort}/ready`).then(
            (r) => r.ok,
            () => false,
          ),
        30_000,
      );
      expect(log).toContain(`mqtt://127.0.0.1:${brokerPort}`);
      expect(log).toContain(`http://127.0.0.1:${apiPort}`);

      const sub = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { protocolVersion: 4 });
      const topics = new Set<string>();
      let sample: { id?: string; deviceId?: string } = {};
      sub.on('connect', () => sub.subscribe('bifrost/#', { qos: 1 }));
      sub.on('message', (topic, payload) => {
        topics.add(topic);
        sample = JSON.parse(payload.toString()) as typeof sample;
      });
      await waitUntil(
        'readings from every simulated device',
        () => ['sim-001', 'sim-002', 'sim-003'].every((d) => [...topics].some((t) => t.startsWith(`bifrost/${d}/`))),
        15_000,
      );
      sub.end(true);
      expect(sample.id).toMatch(/^[0-9a-f-]{36}$/);

      const metrics = (await (await fetch(`http://127.0.0.1:${apiPort}/api/cloud/metrics`)).json()) as {
        connectors: Array<{ name: string; sent: number }>;
        devices: Record<string, unknown>;
      };
      expect(metrics.connectors[0]?.name).toBe('local-mqtt');
      expect(metrics.connectors[0]?.sent).toBeGreaterThan(0);
      expect(Object.keys(metrics.devices).sort()).toEqual(['sim-001', 'sim-002', 'sim-003']);
      await waitUntil('a throughput log line', () => /throughput: \d+ points\/s in/.test(log), 5_000);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(log).toContain('SIGTERM: shutting down');
    expect(log).toContain('"msg":"stopped"');
  }, 60_000);
});
