import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBifrostError, TransientError, type ConnectorDefinition, type DataPoint } from '../src/index.js';
import { createMemoryQueue, createPipeline, labelError, type DurableQueue, type Pipeline } from '../src/host.js';
import { FAST, recordingLogger } from './pipeline-fixtures/harness.js';

const coreDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A plugin folder with its own nested copy of core (the built `dist`, under an older package
 * version), so its error classes are other classes than the host's: `instanceof` fails across them.
 */
function installForeignPlugin(root: string): string {
  const nested = join(root, 'node_modules', '@bifrost', 'core');
  mkdirSync(nested, { recursive: true });
  cpSync(join(coreDir, 'dist'), join(nested, 'dist'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(nested, 'package.json'), JSON.stringify({ ...pkg, version: '0.0.1-older' }));
  for (const dep of Object.keys(pkg.dependencies as Record<string, string>))
    symlinkSync(join(coreDir, 'node_modules', dep), join(root, 'node_modules', dep), 'dir');
  cpSync(join(coreDir, 'test', 'fixtures', 'foreign-plugin', 'plugin.mjs'), join(root, 'plugin.mjs'));
  return join(root, 'plugin.mjs');
}

function point(i: number, tagName: string): DataPoint {
  return { id: `${tagName}-${i}`, deviceId: 'd', tagName, value: i, quality: 'GOOD', timestamp: 1_700_000_000_000 + i };
}

describe('a plugin with its own nested copy of core', () => {
  let root: string;
  let plugin: { default: ConnectorDefinition; calls: { writes: string[][] } };
  let queue: DurableQueue;
  let pipeline: Pipeline;
  const logger = recordingLogger();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bifrost-foreign-'));
    plugin = (await import(pathToFileURL(installForeignPlugin(root)).href)) as typeof plugin;
  });

  afterAll(async () => {
    await pipeline?.stop({ deadlineMs: 100 });
    await queue?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('throws errors that are not instances of the host classes, but carry the brand', async () => {
    const foreignErrors = (await import(
      pathToFileURL(join(root, 'node_modules/@bifrost/core/dist/index.js')).href
    )) as {
      TransientError: typeof TransientError;
    };
    const err: unknown = new foreignErrors.TransientError('x');
    expect(err instanceof TransientError).toBe(false);
    expect(isBifrostError(err)).toBe(true);
  });

  it('has each error kind handled as its kind, with one prefix', async () => {
    queue = createMemoryQueue();
    pipeline = createPipeline({
      queue,
      logger,
      connectors: [
        {
          name: 'hook',
          definition: plugin.default,
          config: {},
          // Whole batches retried (isolation, which splits a failed batch, has its own tests).
          delivery: {
            ...FAST,
            batchSize: 3,
            breaker: { failureThreshold: 50, resetMs: 60_000 },
            poison: { isolate: false },
          },
        },
      ],
    });
    pipeline.start();
    const batches = {
      transient: [1, 2].map((i) => point(i, 'transient')),
      capacity: [1, 2].map((i) => point(i, 'capacity')),
      payload: [point(1, 'payload')],
      partial: [1, 2, 3].map((i) => point(i, 'partial')),
    };
    // One kind at a time, so each batch holds one kind of point.
    for (const b of Object.values(batches)) {
      await pipeline.ingest(b, { connector: 'hook' });
      await expect.poll(() => queue.stats('hook').points, { timeout: 5_000 }).toBe(0);
    }
    expect(pipeline.metricsSnapshot().connectors[0]?.sent).toBe(6);
    const dead = await queue.listDeadLetters();
    expect(dead.map((d) => d.point.id).sort()).toEqual(['partial-1', 'payload-1']);
    expect(Object.fromEntries(dead.map((d) => [d.point.id, d.reason]))).toEqual({
      'payload-1': '[bifrost] [foreign:hook] refused',
      'partial-1': 'too large (413)',
    });
    // The partial write's accepted points were acknowledged once, never written again.
    const partialWrites = plugin.calls.writes.filter((w) => w.some((id) => id.startsWith('partial')));
    expect(partialWrites).toHaveLength(1);
    // Transient and capacity errors were retried (each batch written twice), not dead-lettered.
    for (const tag of ['transient', 'capacity'])
      expect(plugin.calls.writes.filter((w) => w[0]?.startsWith(tag))).toHaveLength(2);
    expect(pipeline.health()[0]?.breaker).toBe('closed');

    await pipeline.ingest([point(1, 'auth')], { connector: 'hook' });
    await expect.poll(() => pipeline.health()[0]?.breaker, { timeout: 5_000 }).toBe('open');
    const health = pipeline.health()[0];
    expect(health?.lastError?.code).toBe('BIFROST_ERR_AUTH');
    expect(health?.lastError?.message).toBe('[bifrost] [foreign:hook] bad password');
    expect(queue.stats('hook').points).toBe(1);
  });

  it('labels a foreign error once even when the plugin prefixed it already', async () => {
    const foreignErrors = (await import(
      pathToFileURL(join(root, 'node_modules/@bifrost/core/dist/index.js')).href
    )) as {
      TransientError: typeof TransientError;
    };
    const err = new foreignErrors.TransientError('[bifrost] [foreign:hook] gone');
    expect(labelError(err, 'foreign:hook').message).toBe('[bifrost] [foreign:hook] gone');
  });
});
