import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { defineConnector, PayloadError, z } from '@bifrost/core';
import { createPipeline, createRouter, openSqliteQueue, parsePoints } from '@bifrost/core/host';
import { afterAll, describe, expect, it, vi } from 'vitest';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'examples', 'gateway.yaml');
const dir = mkdtempSync(join(tmpdir(), 'bifrost-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bifrost(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bifrost CLI', () => {
  it('--version and --help', async () => {
    expect((await bifrost('--version')).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = (await bifrost('--help')).stdout;
    for (const cmd of ['run', 'validate', 'plugins', 'schema', 'dlq', 'queue']) expect(help).toContain(cmd);
  });

  it('validate accepts the embedded default and the seed example', async () => {
    const ok = await bifrost('validate', '-c', EXAMPLE);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('OK (1 connector(s) enabled, 1 source(s)');
    expect((await bifrost('validate', '-c', join(import.meta.dirname, 'fixtures', 'seed-gateway.yaml'))).code).toBe(0);
  });

  it('validate prints every problem with file, line and path, and exits 1', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'gateway:\n  port: x\n  cloud:\n    connectors:\n      a: { type: mqtt, endpoint: "mqtt://h:1", provider_config: { qos: 7 } }\n      b: { type: nosuch }\n',
    );
    const res = await bifrost('validate', '-c', file);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${file}:2 gateway.port:`);
    // Plugin checks need a schema-valid file: fix the port and look again.
    writeFileSync(
      file,
      'gateway:\n  port: 1\n  cloud:\n    connectors:\n      a: { type: mqtt, endpoint: "mqtt://h:1", provider_config: { qos: 7 } }\n      b: { type: nosuch }\n',
    );
    const res2 = await bifrost('validate', '-c', file);
    expect(res2.code).toBe(1);
    expect(res2.stderr).toContain(`${file}:5 gateway.cloud.connectors.a.provider_config.qos:`);
    expect(res2.stderr).toContain(
      `${file}:6 gateway.cloud.connectors.b.type: no connector plugin for type "nosuch" is installed; there is no official connector of that type (official: amqp, aws-iot, azure-iot, gcp-pubsub, http, influxdb, kafka, mqtt, timescale); a third-party one is published as bifrost-connector-nosuch or @<scope>/bifrost-connector-nosuch`,
    );
    expect(res2.stderr).toContain('2 problem(s)');
  });

  it('validate warns, naming the line, when batch_size is above the connector largest batch', async () => {
    const file = join(dir, 'big-batch.yaml');
    writeFileSync(
      file,
      'gateway:\n  cloud:\n    connectors:\n      a:\n        type: mqtt\n        endpoint: "mqtt://h:1"\n        batch_size: 99999\n',
    );
    const res = await bifrost('validate', '-c', file);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(
      new RegExp(
        `^warning: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:7 gateway\\.cloud\\.connectors\\.a\\.batch_size: batch_size 99999 is above`,
      ),
    );
  });

  it('plugins lists the installed plugins with versions and types', async () => {
    const res = await bifrost('plugins');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/connector\s+mqtt\s+@bifrost\/connector-mqtt\s+\d+\.\d+\.\d+\s+\^2/);
    expect(res.stdout).toMatch(/source\s+simulator\s+@bifrost\/source-simulator/);
  });

  it('schema prints a JSON Schema with plugin schemas applied by type', async () => {
    const res = await bifrost('schema');
    expect(res.code).toBe(0);
    const text = JSON.stringify(JSON.parse(res.stdout));
    expect(text).toContain('"const":"mqtt"');
    expect(text).toContain('topic_prefix');
    expect(text).toContain('"const":"simulator"');
    expect(text).toContain('routing_rules');
  });

  it('dlq list, replay and purge work on the queue of a config', async () => {
    const qdir = join(dir, 'q');
    const file = join(dir, 'dlq.yaml');
    writeFileSync(
      file,
      `gateway:\n  cloud:\n    queue: { path: ${qdir} }\n    connectors:\n      a: { type: mqtt, endpoint: "mqtt://127.0.0.1:1" }\n`,
    );
    // Put two dead letters into that queue through the pipeline, as a refusing sink would.
    const queue = await openSqliteQueue(join(qdir, 'queue.db'));
    const refuse = defineConnector({
      type: 'refuse',
      configSchema: z.object({}),
      create: () => ({
        async connect() {},
        async close() {},
        write(b) {
          return Promise.reject(
            new PayloadError(
              'refused by test',
              b.map((p) => p.id),
            ),
          );
        },
      }),
    });
    const pipeline = createPipeline({
      queue,
      router: createRouter({ connectors: ['a'] }),
      connectors: [{ name: 'a', definition: refuse, config: {}, delivery: { flushIntervalMs: 1 } }],
    });
    pipeline.start();
    await pipeline.ingest(
      parsePoints([
        { deviceId: 'd', tagName: 't', value: 1 },
        { deviceId: 'd', tagName: 't', value: 2 },
      ]),
    );
    await vi.waitFor(() => expect(pipeline.metricsSnapshot().connectors[0]?.deadLettered).toBeGreaterThanOrEqual(2), {
      timeout: 10_000,
      interval: 10,
    });
    await pipeline.stop();
    await queue.close();

    const list = await bifrost('dlq', 'list', '-c', file);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('refused by test');
    expect(list.stdout).toContain('2 dead letter(s)');
    const [firstLine = ''] = list.stdout.split('\n', 1);
    const [seq = ''] = firstLine.split('\t', 1);
    expect((await bifrost('dlq', 'replay', '-c', file, '--connector', 'a', '--seq', seq)).stdout).toContain(
      '1 dead letter(s) replayed',
    );
    expect((await bifrost('dlq', 'purge', '-c', file)).stdout).toContain('1 dead letter(s) purged');
    expect((await bifrost('dlq', 'list', '-c', file)).stdout).toContain('0 dead letter(s)');

    // While a gateway holds the queue, dlq refuses with a pointer to the REST routes.
    const held = await openSqliteQueue(join(qdir, 'queue.db'));
    try {
      const busy = await bifrost('dlq', 'list', '-c', file);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain('in use by another process');
      expect(busy.stderr).toContain('/api/cloud/deadletters');
    } finally {
      await held.close();
    }
  });
});

describe('bifrost queue', () => {
  it('check finds a damaged chunk, salvage copies the rest into a new file, acknowledge clears the incident', async () => {
    const qdir = join(dir, 'damaged');
    const file = join(dir, 'damaged.yaml');
    writeFileSync(
      file,
      `gateway:\n  cloud:\n    queue: { path: ${qdir} }\n    connectors:\n      a: { type: mqtt, endpoint: "mqtt://127.0.0.1:1" }\n`,
    );
    const queueFile = join(qdir, 'queue.db');
    const queue = await openSqliteQueue(queueFile);
    for (let i = 0; i < 3; i++)
      await queue.enqueue(
        parsePoints([{ deviceId: 'd', tagName: 't', value: i }]).map((point) => ({
          connector: 'a',
          point,
          priority: 0,
        })),
      );
    await queue.close();
    expect((await bifrost('queue', 'check', '-c', file)).code).toBe(0);
    // One byte of one chunk's payload changed: SQLite sees nothing wrong, the checksum does.
    const raw = new DatabaseSync(queueFile);
    raw.exec("UPDATE chunks SET payload = CAST(payload AS BLOB) || x'00' WHERE seq = (SELECT min(seq) FROM chunks)");
    raw.close();

    const check = await bifrost('queue', 'check', '-c', file, '--json');
    expect(check.code).toBe(1);
    expect(JSON.parse(check.stdout)).toMatchObject({
      sqliteProblems: [],
      chunks: 2,
      points: 2,
      damagedChunks: 1,
      damagedPoints: 1,
    });

    const salvage = await bifrost('queue', 'salvage', '-c', file);
    expect(salvage.code).toBe(0);
    expect(salvage.stdout).toMatch(/2 points recovered in 2 chunks, 1 points in 1 damaged chunks quarantined/);
    expect(readdirSync(qdir).some((f) => f.startsWith('queue.db.corrupt-'))).toBe(true);

    const after = await bifrost('queue', 'check', '-c', file);
    expect(after.code).toBe(1); // the salvage incident waits for an operator
    expect(after.stdout).toMatch(/unacknowledged incidents: 1/);
    expect((await bifrost('queue', 'acknowledge', '-c', file)).stdout).toContain('1 incident(s) acknowledged');
    const clean = await bifrost('queue', 'check', '-c', file);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/chunks with a good checksum: 2 \(2 points queued\)/);
  });
});

describe('README config reference', () => {
  it('matches the schemas (regenerate with pnpm --filter @bifrost/gateway docs)', async () => {
    const { stdout } = await run(process.execPath, [
      join(import.meta.dirname, '..', 'scripts', 'config-reference.mjs'),
      '--check',
    ]);
    expect(stdout).toContain('up to date');
  });
});
