// Telegraf's own InfluxDB outputs pointed at `bifrost run`: lines go into Telegraf's HTTP listener,
// Telegraf writes them with `outputs.influxdb` (1.x API, Basic auth, gzip) and `outputs.influxdb_v2`
// (2.x API, Token auth, gzip) to the gateway, and an independent MQTT subscriber reads the points the
// gateway delivered to Mosquitto: the mapping of measurement, tags and fields is checked end to end.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findBinary,
  requirePeer,
  startMosquitto,
  mosquittoBinary,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';

const telegraf = requirePeer('telegraf', () => findBinary('telegraf', { env: 'BIFROST_TELEGRAF' }));
const mosquitto = requirePeer('mosquitto', mosquittoBinary);
const TOKEN = 'telegraf-s3cret';

interface DeliveredPoint {
  deviceId: string;
  tagName: string;
  value: unknown;
  timestamp: number;
  tags?: Record<string, string>;
}

describe.skipIf(!telegraf.available || !mosquitto.available)('Telegraf outputs.influxdb -> bifrost', () => {
  let dir: string;
  let broker: MosquittoPeer;
  let gateway: GatewayProcess;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  let subscriber: MqttClient;
  const delivered: DeliveredPoint[] = [];
  let listenerUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-telegraf-'));
    broker = await startMosquitto();
    const apiPort = await freePort();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        `  port: ${apiPort}`,
        '  log_level: warn',
        '  throughput_log_interval: 0',
        '  shutdown_timeout: 2s',
        '  api:',
        `    token: ${TOKEN}`,
        '    line_protocol: { device_tag: host }',
        '  cloud:',
        '    batch_timeout: 20ms',
        '    queue: { path: ./queue }',
        '    connectors:',
        '      broker:',
        '        type: mqtt',
        `        endpoint: ${broker.url}`,
        '        provider_config: { qos: 1, topic_prefix: lp, client_id: bifrost-telegraf-test }',
        '',
      ].join('\n'),
    );
    gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`, TOKEN);

    subscriber = mqtt.connect(broker.url, { clientId: 'telegraf-test-subscriber', protocolVersion: 4 });
    subscriber.on('message', (_topic, payload) => delivered.push(JSON.parse(payload.toString()) as DeliveredPoint));
    await waitUntil('subscriber connected', () => subscriber.connected);
    await subscriber.subscribeAsync('lp/#', { qos: 1 });
    await gateway.start();

    const listenerPort = await freePort();
    listenerUrl = `http://127.0.0.1:${listenerPort}/telegraf`;
    const telegrafConf = join(dir, 'telegraf.conf');
    writeFileSync(
      telegrafConf,
      [
        '[agent]',
        '  interval = "1s"',
        '  flush_interval = "200ms"',
        '  omit_hostname = true',
        '[[inputs.http_listener_v2]]',
        `  service_address = "127.0.0.1:${listenerPort}"`,
        '  paths = ["/telegraf"]',
        '  data_format = "influx"',
        '[[outputs.influxdb]]',
        `  urls = ["http://127.0.0.1:${apiPort}"]`,
        '  database = "plant"',
        '  skip_database_creation = true',
        '  username = "telegraf"',
        `  password = "${TOKEN}"`,
        '  content_encoding = "gzip"',
        '  namepass = ["boiler"]',
        '[[outputs.influxdb_v2]]',
        `  urls = ["http://127.0.0.1:${apiPort}"]`,
        `  token = "${TOKEN}"`,
        '  organization = "acme"',
        '  bucket = "plant"',
        '  content_encoding = "gzip"',
        '  namepass = ["pump"]',
        '',
      ].join('\n'),
    );
    agent = spawn(telegraf.found!, ['--config', telegrafConf], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      agentLog = (agentLog + d.toString()).slice(-20_000);
    };
    agent.stdout!.on('data', keep);
    agent.stderr!.on('data', keep);
    await waitUntil(
      'telegraf listening',
      async () => {
        if (agent?.exitCode !== null) throw new Error(`telegraf exited: ${agentLog}`);
        return fetch(listenerUrl, { method: 'POST', body: '' }).then(
          (r) => r.status < 500,
          () => false,
        );
      },
      30_000,
    );
  }, 90_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await subscriber?.endAsync();
    await gateway?.stop('SIGTERM');
    await broker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers each field as a point: device from the host tag, field key as tagName, tags kept, typed values', async () => {
    const lines = [
      'boiler,host=edge-7,site=north temp=81.5,alarm=false,state="ok \\"hot\\"",count=3i 1700000000123456789',
      'pump,host=edge-8 rpm=1200i,flow=2.25 1700000001000000000',
    ];
    const res = await fetch(listenerUrl, { method: 'POST', body: lines.join('\n') });
    expect(res.status).toBe(204);
    const byName = () => new Map(delivered.map((p) => [`${p.deviceId}/${p.tagName}`, p]));
    await waitUntil(`6 points delivered (telegraf log: ${agentLog.slice(-2000)})`, () => byName().size >= 6, 30_000);
    const points = byName();
    const boilerTags = { host: 'edge-7', site: 'north', _measurement: 'boiler' };
    expect(points.get('edge-7/temp')).toMatchObject({ value: 81.5, timestamp: 1_700_000_000_123, tags: boilerTags });
    expect(points.get('edge-7/alarm')).toMatchObject({ value: false, tags: boilerTags });
    expect(points.get('edge-7/state')).toMatchObject({ value: 'ok "hot"' });
    expect(points.get('edge-7/count')).toMatchObject({ value: 3 });
    const pumpTags = { host: 'edge-8', _measurement: 'pump' };
    expect(points.get('edge-8/rpm')).toMatchObject({ value: 1200, timestamp: 1_700_000_001_000, tags: pumpTags });
    expect(points.get('edge-8/flow')).toMatchObject({ value: 2.25, tags: pumpTags });
    // Telegraf saw 204s: it logged no write error.
    expect(agentLog).not.toMatch(/E! \[outputs\.influxdb/);
  }, 60_000);
});
