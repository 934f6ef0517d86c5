import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { NoConfigError, resolveConfigPath } from '../src/init.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const REPO = resolve(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bifrost-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function bifrost(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function fresh(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  return d;
}

describe('config lookup without -c', () => {
  it('outside the repository: ./bifrost.yaml, else a NoConfigError saying to run bifrost init', () => {
    const d = fresh('lookup');
    expect(() => resolveConfigPath(undefined, d)).toThrow(NoConfigError);
    expect(() => resolveConfigPath(undefined, d)).toThrow(/bifrost\.yaml not found in .*\n.*bifrost init/);
    writeFileSync(join(d, 'bifrost.yaml'), 'gateway: {}\n');
    expect(resolveConfigPath(undefined, d)).toBe(join(d, 'bifrost.yaml'));
    expect(resolveConfigPath('other.yaml', d)).toBe(join(d, 'other.yaml'));
  });

  it("inside this repository: falls back to the repository's examples/gateway.yaml", () => {
    expect(resolveConfigPath(undefined, REPO)).toBe(join(REPO, 'examples', 'gateway.yaml'));
    expect(resolveConfigPath(undefined, join(REPO, 'apps', 'gateway'))).toBe(join(REPO, 'examples', 'gateway.yaml'));
  });

  it('validate and run with no config say exactly what to do, exit 1', async () => {
    const d = fresh('none');
    for (const cmd of ['validate', 'run']) {
      const res = await bifrost(d, cmd);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`[bifrost] no config file: bifrost.yaml not found in ${d}`);
      expect(res.stderr).toContain('bifrost init');
      expect(res.stderr).not.toContain('ENOENT');
    }
  });
});

describe('bifrost init', () => {
  it('writes ./bifrost.yaml (embedded broker + simulator) that validate then finds and accepts', async () => {
    const d = fresh('default');
    const res = await bifrost(d, 'init');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('wrote bifrost.yaml');
    const text = readFileSync(join(d, 'bifrost.yaml'), 'utf8');
    expect(text).toMatch(/^# /m); // commented
    const cfg = parse(text) as {
      gateway: {
        embedded_broker: { enabled: boolean };
        sources: Record<string, { type: string }>;
        cloud: { connectors: Record<string, { type: string; endpoint: string }> };
      };
    };
    expect(cfg.gateway.embedded_broker.enabled).toBe(true);
    expect(cfg.gateway.sources.sim?.type).toBe('simulator');
    expect(cfg.gateway.cloud.connectors['local-mqtt']).toMatchObject({ type: 'mqtt', endpoint: 'embedded' });
    const ok = await bifrost(d, 'validate');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${join(d, 'bifrost.yaml')}: OK (1 connector(s) enabled, 1 source(s)`);
  });

  it('refuses to overwrite without --force; writes another file when named', async () => {
    const d = fresh('force');
    writeFileSync(join(d, 'bifrost.yaml'), 'mine\n');
    const res = await bifrost(d, 'init');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('bifrost.yaml exists; use --force');
    expect(readFileSync(join(d, 'bifrost.yaml'), 'utf8')).toBe('mine\n');
    expect((await bifrost(d, 'init', '--force')).code).toBe(0);
    expect(readFileSync(join(d, 'bifrost.yaml'), 'utf8')).toContain('embedded_broker');
    const named = await bifrost(d, 'init', 'plant.yaml');
    expect(named.stdout).toContain('npx bifrost validate -c plant.yaml');
    expect((await bifrost(d, 'validate', '-c', 'plant.yaml')).code).toBe(0);
  });

  it("--connector <type> fills provider_config from the plugin's schema: defaults, descriptions, secrets", async () => {
    const d = fresh('connector');
    const res = await bifrost(d, 'init', 'mqtt.yaml', '--connector', 'mqtt');
    expect(res.code).toBe(0);
    const text = readFileSync(join(d, 'mqtt.yaml'), 'utf8');
    expect(text).toContain('type: mqtt # the plugin @bifrost/connector-mqtt');
    expect(text).toContain('# Value of `{topic_prefix}` in topic templates.');
    expect(text).toMatch(/^ {10}topic_prefix: bifrost$/m); // default written out
    expect(text).toMatch(/^ {10}qos: 1$/m);
    expect(text).toMatch(/^ {10}# password: \$\{PASSWORD\}$/m); // secret: from the environment
    const cfg = parse(text) as { gateway: { cloud: { connectors: Record<string, { provider_config: object }> } } };
    expect(cfg.gateway.cloud.connectors['my-mqtt']?.provider_config).toMatchObject({ qos: 1, topic_prefix: 'bifrost' });
    expect((await bifrost(d, 'validate', '-c', 'mqtt.yaml')).code).toBe(0);
  });

  it('--connector writes valid YAML for every official connector (templates, empty strings, nested options)', async () => {
    const d = fresh('every');
    for (const type of ['amqp', 'influxdb', 'kafka', 'mqtt', 'timescale']) {
      const res = await bifrost(d, 'init', `${type}.yaml`, '--connector', type);
      expect(res.code, res.stderr).toBe(0);
      const text = readFileSync(join(d, `${type}.yaml`), 'utf8');
      const cfg = parse(text) as { gateway: { cloud: { connectors: Record<string, { type: string }> } } };
      expect(cfg.gateway.cloud.connectors[`my-${type}`]?.type).toBe(type);
      // Whatever validate still asks for is an option the user must fill in, never a YAML error.
      const v = await bifrost(d, 'validate', '-c', `${type}.yaml`);
      expect(v.stderr).not.toContain('(yaml)');
    }
  });

  it('--connector with a type nobody installed names the packages to install', async () => {
    const res = await bifrost(fresh('missing'), 'init', '--connector', 'nope');
    expect(res.code).toBe(1);
    expect(res.stderr).not.toContain('@bifrost/connector-nope');
    expect(res.stderr).toContain('published as bifrost-connector-nope or @<scope>/bifrost-connector-nope');
    expect(res.stderr).toContain('installed connector types: ');
  });

  it('--connector with an official type that is not installed says which package to install', async () => {
    // The hint itself (official types only); the CLI path needs an install without the package.
    const { missingPluginHint } = await import('../src/plugins/discovery.js');
    expect(missingPluginHint('connector', 'kafka')).toBe('install it: npm i @bifrost/connector-kafka');
    expect(missingPluginHint('connector', 'webhook')).not.toContain('@bifrost/');
    expect(missingPluginHint('source', 'opcua')).toContain('bifrost-source-opcua or @<scope>/bifrost-source-opcua');
  });
});
