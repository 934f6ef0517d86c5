import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN_API_VERSION } from '@bifrost/core';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText, type LoadedConfig } from '../src/config/load.js';
import type { GatewayConfig } from '../src/config/schema.js';
import { discoverPlugins, findByType, findExplicit, type PluginPackage } from '../src/plugins/discovery.js';
import { loadPlugin, PluginApiMismatchError } from '../src/plugins/load.js';
import { connectorPluginInput, resolvePlugins } from '../src/plugins/resolve.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A directory with a config file and `node_modules/<pkg>` links to fixture plugins, as `npm install` would leave it. */
function projectWith(...pkgs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-plugins-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  for (const p of pkgs) symlinkSync(join(FIXTURES, p), join(dir, 'node_modules', p), 'dir');
  return dir;
}

function config(text: string, baseDir: string): LoadedConfig & { config: GatewayConfig } {
  const loaded = parseConfigText(text, { baseDir });
  expect(loaded.issues).toEqual([]);
  return loaded as LoadedConfig & { config: GatewayConfig };
}

const jsonlConfig = (extra: string) =>
  `gateway:\n  cloud:\n    connectors:\n      out:\n        type: jsonl\n${extra}        provider_config: { path: /tmp/x.jsonl }\n`;

describe('plugin discovery', () => {
  it('finds the official plugins of the gateway with versions, types and roles', () => {
    const found = discoverPlugins();
    const mqtt = findByType(found, 'connector', 'mqtt');
    expect(mqtt).toMatchObject({ name: '@bifrost/connector-mqtt', role: 'connector', type: 'mqtt', api: '^2' });
    expect(mqtt!.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(findByType(found, 'source', 'simulator')?.name).toBe('@bifrost/source-simulator');
  });

  it('finds a third-party package installed beside the config by its type, and loads it', async () => {
    const dir = projectWith('bifrost-connector-jsonl');
    const found = discoverPlugins([dir]);
    expect(findByType(found, 'connector', 'jsonl')).toMatchObject({
      name: 'bifrost-connector-jsonl',
      version: '1.2.3',
      origin: 'node_modules',
    });
    const r = await resolvePlugins(config(jsonlConfig(''), dir));
    expect(r.issues).toEqual([]);
    expect(r.connectors[0]).toMatchObject({
      name: 'out',
      plugin: { name: 'bifrost-connector-jsonl' },
      config: { path: '/tmp/x.jsonl' },
    });
    expect(r.connectors[0]?.definition.type).toBe('jsonl');
  });

  it('loads a plugin named explicitly by package name', async () => {
    const dir = projectWith('bifrost-connector-jsonl');
    const r = await resolvePlugins(config(jsonlConfig('        plugin: bifrost-connector-jsonl\n'), dir));
    expect(r.issues).toEqual([]);
    expect(r.connectors[0]?.plugin.origin).toBe('node_modules');
  });

  it('loads a plugin named explicitly by path, relative to the config file', async () => {
    const r = await resolvePlugins(
      config(jsonlConfig('        plugin: ./fixtures/bifrost-connector-jsonl\n'), import.meta.dirname),
    );
    expect(r.issues).toEqual([]);
    expect(r.connectors[0]?.plugin).toMatchObject({ origin: 'path', name: 'bifrost-connector-jsonl' });
  });

  it('prefers @bifrost/connector-<type>, then bifrost-connector-<type>, then @scope/bifrost-connector-<type>', () => {
    const p = (name: string): PluginPackage => ({
      name,
      version: '1.0.0',
      role: 'connector',
      type: 'x',
      api: '^2',
      dir: '/',
      origin: 'node_modules',
    });
    expect(findByType([p('@acme/bifrost-connector-x'), p('bifrost-connector-x')], 'connector', 'x')!.name).toBe(
      'bifrost-connector-x',
    );
    expect(findByType([p('@acme/bifrost-connector-x'), p('@bifrost/connector-x')], 'connector', 'x')!.name).toBe(
      '@bifrost/connector-x',
    );
    expect(findByType([p('@acme/bifrost-connector-x')], 'connector', 'x')!.name).toBe('@acme/bifrost-connector-x');
  });

  it('a missing plugin is an error naming the package to install (official only) or the third-party rule, at the type line', async () => {
    const r = await resolvePlugins(
      config('gateway:\n  cloud:\n    connectors:\n      s3:\n        type: s3\n', import.meta.dirname),
    );
    expect(r.issues).toEqual([
      {
        path: 'gateway.cloud.connectors.s3.type',
        line: 5,
        message: expect.stringContaining(
          'published as bifrost-connector-s3 or @<scope>/bifrost-connector-s3',
        ) as unknown,
      },
    ]);
    expect(r.issues[0]?.message).not.toContain('@bifrost/connector-s3');
    const kafka = await resolvePlugins(
      config('gateway:\n  cloud:\n    connectors:\n      k:\n        type: kafka\n', import.meta.dirname),
      { found: [] },
    );
    expect(kafka.issues[0]?.message).toContain('install it: npm i @bifrost/connector-kafka');
    expect(() => findExplicit([], 'bifrost-connector-nope', import.meta.dirname)).toThrow(
      /npm install bifrost-connector-nope/,
    );
  });

  it('an incompatible api range is an error naming both versions, without importing the plugin', async () => {
    const dir = projectWith('bifrost-connector-future');
    const plugin = findByType(discoverPlugins([dir]), 'connector', 'future')!;
    const err = await loadPlugin(plugin, 'connector').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginApiMismatchError);
    expect((err as Error).message).toContain('^3');
    expect((err as Error).message).toContain(PLUGIN_API_VERSION);
  });

  it('rejects a default export not made by defineConnector', async () => {
    const dir = projectWith();
    const pkg = join(dir, 'node_modules', 'bifrost-connector-fake');
    mkdirSync(pkg);
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({
        name: 'bifrost-connector-fake',
        version: '1.0.0',
        type: 'module',
        main: 'index.js',
        bifrost: { role: 'connector', type: 'fake', api: '^2' },
      }),
    );
    writeFileSync(join(pkg, 'index.js'), 'export default { type: "fake", create() {} };\n');
    const plugin = findByType(discoverPlugins([dir]), 'connector', 'fake')!;
    await expect(loadPlugin(plugin, 'connector')).rejects.toThrow(/not made by defineConnector/);
  });

  it('a copied (not linked) package works as well', async () => {
    const dir = projectWith();
    cpSync(join(FIXTURES, 'bifrost-connector-jsonl'), join(dir, 'node_modules', 'bifrost-connector-jsonl'), {
      recursive: true,
    });
    // The copy resolves @bifrost/core and zod from the gateway's own node_modules via a link, as a hoisted install would.
    symlinkSync(
      join(import.meta.dirname, '..', 'node_modules', '@bifrost'),
      join(dir, 'node_modules', '@bifrost'),
      'dir',
    );
    symlinkSync(join(import.meta.dirname, '..', 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
    const r = await resolvePlugins(config(jsonlConfig(''), dir));
    expect(r.issues).toEqual([]);
  });
});

describe('endpoint aliases', () => {
  const entry = (provider_config: Record<string, unknown>, endpoint?: string) =>
    ({ type: 'x', enabled: true, endpoint, provider_config }) as unknown as Parameters<typeof connectorPluginInput>[0];

  it('passes a declared alias as endpoint, winning over endpoint, and joins lists', () => {
    expect(connectorPluginInput(entry({ broker: 'mqtt://b:1', qos: 1 }, 'mqtt://a:1'), undefined, ['broker'])).toEqual({
      endpoint: 'mqtt://b:1',
      qos: 1,
    });
    expect(connectorPluginInput(entry({ brokers: ['k1:9092', 'k2:9092'] }), undefined, ['brokers'])).toEqual({
      endpoint: 'k1:9092,k2:9092',
    });
    expect(connectorPluginInput(entry({ broker: 'embedded' }), 'mqtt://127.0.0.1:1883', ['broker'])).toEqual({
      endpoint: 'mqtt://127.0.0.1:1883',
    });
    expect(connectorPluginInput(entry({ broker: 'x' }, 'mqtt://a:1'))).toEqual({ broker: 'x', endpoint: 'mqtt://a:1' });
  });
});
