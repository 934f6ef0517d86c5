import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostFileChecks } from '../src/config/file-checks.js';
import { deliveryOptions, connectorLane, queueOptions } from '../src/config/host-settings.js';
import { loadConfigFile, parseConfigText, type LoadedConfig } from '../src/config/load.js';
import type { GatewayConfig } from '../src/config/schema.js';
import { resolvePlugins } from '../src/plugins/resolve.js';
import { routingChecks } from '../src/routing.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);

async function allIssues(loaded: LoadedConfig) {
  if (!loaded.config || loaded.issues.length) return loaded.issues;
  const l = loaded as LoadedConfig & { config: GatewayConfig };
  const r = await resolvePlugins(l);
  return [...r.issues, ...routingChecks(l, r.issues)];
}

const tmpDirs: string[] = [];
afterEach(() => {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'bifrost-config-'));
  tmpDirs.push(d);
  return d;
}

describe('seed 001 examples', () => {
  it('the gateway configuration example is valid as written, plugin schema included', async () => {
    const loaded = loadConfigFile(fixture('seed-gateway.yaml'));
    expect(await allIssues(loaded)).toEqual([]);
    const c = loaded.config?.cloud.connectors['mqtt-local'];
    if (!c) throw new Error('seed-gateway.yaml has no mqtt-local connector');
    expect(c.timeout).toBe(30_000);
    expect(c.retry_delay).toBe(2_000);
    expect(loaded.config!.cloud.batch_timeout).toBe(5_000);
  });

  it('the connector examples and routing rules validate as written, AWS IoT included', async () => {
    expect(await allIssues(loadConfigFile(fixture('seed-connectors.yaml')))).toEqual([]);
  });

  /** The seed's connector examples with the AWS IoT one's type changed to a plugin nobody installed. */
  const withMissingPlugin = () =>
    readFileSync(fixture('seed-connectors.yaml'), 'utf8').replace('type: "aws-iot"', 'type: "acme-historian"');

  it('a connector whose plugin does not exist names the third-party packages to look for, at its line', async () => {
    const text = withMissingPlugin();
    const issues = await allIssues(parseConfigText(text, { baseDir: import.meta.dirname }));
    expect(issues).toHaveLength(1);
    const [issue] = issues;
    expect(issue?.path).toBe('gateway.cloud.connectors.aws-iot.type');
    expect(issue?.message).toContain(
      'published as bifrost-connector-acme-historian or @<scope>/bifrost-connector-acme-historian',
    );
    expect(issue?.message).not.toContain('@bifrost/connector-acme-historian');
    expect(text.split('\n')[(issue?.line ?? 0) - 1]).toContain('type: "acme-historian"');
  });

  it('a connector whose plugin is missing is skipped when enabled: false', async () => {
    const text = withMissingPlugin().replace(/(type: "acme-historian"\n\s+enabled: )true/, '$1false');
    const loaded = parseConfigText(text, { baseDir: import.meta.dirname });
    expect(await allIssues(loaded)).toEqual([]);
  });
});

describe('config errors', () => {
  it('reports every problem with its YAML path and line number', () => {
    const text = [
      'gateway:', // 1
      '  port: eighty', // 2
      '  log_level: loud', // 3
      '  cloud:', // 4
      '    batch_timeout: 5 parsecs', // 5
      '    connectors:', // 6
      '      plant-a:', // 7
      '        type: mqtt', // 8
      '        endpoint: mqtt://127.0.0.1:1883', // 9
      '        colour: blue', // 10
      '        queue:', // 11
      '          when_full: explode', // 12
      '    routing_rules:', // 13
      '      - name: r1', // 14
      '        condition: tag_name=x', // 15
      '        connectors: [plant-a]', // 16
      '        priority: 12', // 17
    ].join('\n');
    const issues = parseConfigText(text).issues;
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(byPath['gateway.port']?.line).toBe(2);
    expect(byPath['gateway.log_level']?.line).toBe(3);
    expect(byPath['gateway.cloud.batch_timeout']).toMatchObject({
      line: 5,
      message: expect.stringContaining('duration') as unknown,
    });
    expect(byPath['gateway.cloud.connectors.plant-a.colour']).toMatchObject({
      line: 10,
      message: 'unknown option "colour"',
    });
    expect(byPath['gateway.cloud.connectors.plant-a.queue.when_full']?.line).toBe(12);
    expect(byPath['gateway.cloud.routing_rules[0].priority']?.line).toBe(17);
    expect(issues).toHaveLength(6);
  });

  it('a missing field reads Required at its parent line (zod 4 says "received undefined")', () => {
    const text = ['gateway:', '  cloud:', '    connectors:', '      a: { endpoint: "mqtt://h:1883" }'].join('\n');
    expect(parseConfigText(text).issues).toEqual([
      { path: 'gateway.cloud.connectors.a.type', line: 4, message: 'Required' },
    ]);
  });

  it('maps plugin schema errors to provider_config paths and lines', async () => {
    const text = [
      'gateway:',
      '  cloud:',
      '    connectors:',
      '      plant-a:',
      '        type: mqtt',
      '        endpoint: ftp://nope',
      '        provider_config:',
      '          qos: 3',
      '          bogus: 1',
    ].join('\n');
    const issues = await allIssues(parseConfigText(text));
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i.line]));
    expect(byPath).toMatchObject({
      'gateway.cloud.connectors.plant-a.endpoint': 6,
      'gateway.cloud.connectors.plant-a.provider_config.qos': 8,
      'gateway.cloud.connectors.plant-a.provider_config.bogus': 9,
    });
  });

  it('reports YAML errors (here a duplicate key) with their line', () => {
    const issues = parseConfigText('gateway:\n  port: 1\n  port: 2\n').issues;
    expect(issues).toEqual([{ path: '(yaml)', line: 3, message: expect.stringContaining('unique') as unknown }]);
  });

  it('reports unknown connectors in routing rules and bad conditions', async () => {
    const text = [
      'gateway:',
      '  cloud:',
      '    default_connector: nowhere',
      '    connectors:',
      '      a: { type: mqtt, endpoint: "mqtt://127.0.0.1:1" }',
      '    routing_rules:',
      '      - { name: r1, condition: "tag_name=", connectors: [a] }',
      '      - { name: r2, condition: "quality=ALARM", connectors: [b] }',
    ].join('\n');
    const issues = await allIssues(parseConfigText(text));
    const paths = issues.map((i) => i.path);
    expect(paths).toContain('gateway.cloud.default_connector');
    expect(paths).toContain('gateway.cloud.routing_rules[0].condition');
    expect(paths).toContain('gateway.cloud.routing_rules[1].connectors[0]');
    expect(issues.find((i) => i.path === 'gateway.cloud.routing_rules[0].condition')!.line).toBe(7);
  });
});

describe('messages a person can act on', () => {
  it('one YAML syntax error is one line, saying how many follow', () => {
    const l = parseConfigText('gateway:\n  cloud: [\n    connectors: {a: 1\n');
    expect(l.issues).toHaveLength(1);
    expect(l.issues[0]).toMatchObject({
      path: '(yaml)',
      line: 4,
      message: expect.stringMatching(/and 1 more after it/) as unknown,
    });
  });

  it('an alias bomb is a config problem, not a crash', () => {
    let text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n';
    for (let i = 1, prev = 'a'; i < 10; i++) {
      const name = String.fromCharCode(97 + i);
      text += `${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
      prev = name;
    }
    const l = parseConfigText(text);
    expect(l.issues).toEqual([
      { path: '(yaml)', message: expect.stringMatching(/cannot expand the document/) as unknown },
    ]);
  });

  it('a routing rule naming only unknown connectors reports those names, not "no connectors listed"', async () => {
    const text =
      'gateway:\n  cloud:\n    connectors:\n      a: { type: mqtt, endpoint: "mqtt://h:1" }\n    routing_rules:\n      - { name: r1, condition: "tag_name=temp", connectors: [nosuch] }\n';
    const issues = await allIssues(parseConfigText(text));
    expect(issues.map((i) => i.message)).toEqual([expect.stringMatching(/unknown connector "nosuch"/)]);
  });
});

describe('environment variables and secret files', () => {
  it('substitutes ${VAR} and ${VAR:-default}; an unset variable is an issue naming it', () => {
    const ok = parseConfigText(
      'gateway:\n  port: 8080\n  api: { host: "${HOST}", token: "${TOKEN:-fallback-token}" }\n',
      { env: { HOST: '0.0.0.0' } },
    );
    expect(ok.issues).toEqual([]);
    expect(ok.config!.api).toMatchObject({ host: '0.0.0.0', token: 'fallback-token' });
    const bad = parseConfigText('gateway:\n  api:\n    token: "${MISSING_TOKEN}"\n', { env: {} });
    expect(bad.issues[0]).toMatchObject({
      path: 'gateway.api.token',
      line: 3,
      message: expect.stringContaining('MISSING_TOKEN') as unknown,
    });
  });

  it('reads *_file secrets relative to the config and registers them for redaction', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'pw.txt'), 's3cr3t-pw\n');
    writeFileSync(
      join(dir, 'gw.yaml'),
      [
        'gateway:',
        '  cloud:',
        '    connectors:',
        '      a:',
        '        type: mqtt',
        '        endpoint: mqtt://127.0.0.1:1883',
        '        provider_config: { username: u, password_file: pw.txt }',
      ].join('\n'),
    );
    const loaded = loadConfigFile(join(dir, 'gw.yaml'));
    expect(loaded.issues).toEqual([]);
    expect(loaded.config!.cloud.connectors.a!.provider_config).toEqual({ username: 'u', password: 's3cr3t-pw' });
    expect(loaded.secrets.redactText('login failed for u:s3cr3t-pw')).toBe('login failed for u:***');
    const missing = parseConfigText('gateway:\n  api: { token_file: /nonexistent/token }\n');
    expect(missing.issues[0]).toMatchObject({
      path: 'gateway.api.token_file',
      line: 2,
      message: expect.stringContaining('ENOENT') as unknown,
    });
  });
});

describe('host-level settings', () => {
  it('maps the seed fields to delivery options and lane settings', () => {
    const { config } = parseConfigText(
      [
        'gateway:',
        '  cloud:',
        '    batch_size: 100',
        '    batch_timeout: 5s',
        '    health_check_interval: 30s',
        '    poison: { strikes: 4 }',
        '    buffer: { max_size: 10000, persistent_path: ./q }',
        '    queue: { when_full: drop_oldest, ttl: 2h, sync: always, memory_cache_bytes: 1048576 }',
        '    connectors:',
        '      a:',
        '        type: mqtt',
        '        timeout: 500ms',
        '        retry_count: 5',
        '        retry_delay: 2s',
        '        buffer_size: 1000',
        '        queue: { order: newest_first }',
        '        breaker: { reset: 1m }',
        '        poison: { isolate: false }',
      ].join('\n'),
    );
    const a = config!.cloud.connectors.a!;
    expect(deliveryOptions(config!, a)).toEqual({
      batchSize: 100,
      flushIntervalMs: 5_000,
      timeoutMs: 500,
      healthCheckIntervalMs: 30_000,
      retry: { initialDelayMs: 2_000 },
      breaker: { failureThreshold: 5, resetMs: 60_000 },
      poison: { isolate: false, strikes: 4 },
    });
    expect(connectorLane(a)).toEqual({ maxPoints: 1000, order: 'newest_first' });
    expect(queueOptions(config!)).toMatchObject({
      sync: 'always',
      memoryCacheBytes: 1_048_576,
      defaults: { maxPoints: 10_000, whenFull: 'drop_oldest', ttlMs: 7_200_000 },
    });
  });
});

describe('files the host loads', () => {
  it('reports unreadable TLS files at their field and line', async () => {
    const loaded = parseConfigText(
      [
        'gateway:',
        '  api: { tls: { cert_file: /nonexistent/api.pem, key_file: /nonexistent/api.key } }',
        '  cloud:',
        '    connectors:',
        '      a:',
        '        type: mqtt',
        '        tls_enabled: true',
        '        ca_file: /nonexistent/ca.pem',
      ].join('\n'),
    );
    const issues = await hostFileChecks(loaded as LoadedConfig & { config: GatewayConfig });
    expect(issues).toEqual(
      expect.arrayContaining([
        {
          path: 'gateway.cloud.connectors.a.ca_file',
          line: 8,
          message: expect.stringContaining('/nonexistent/ca.pem') as unknown,
        },
        { path: 'gateway.api.tls.cert_file', line: 2, message: expect.stringContaining('ENOENT') as unknown },
        { path: 'gateway.api.tls.key_file', line: 2, message: expect.stringContaining('ENOENT') as unknown },
      ]),
    );
  });
});

describe('sources', () => {
  it('host-level source keys (type, enabled, plugin, priority) are not passed to the plugin schema', async () => {
    const loaded = parseConfigText(
      'gateway:\n  sources:\n    sim: { type: simulator, priority: 7, devices: 2, interval: 500ms }\n    off: { type: not-installed, enabled: false }\n',
    );
    const l = loaded as LoadedConfig & { config: GatewayConfig };
    const r = await resolvePlugins(l);
    expect(r.issues).toEqual([]);
    expect(r.sources).toHaveLength(1);
    expect(r.sources[0]?.entry.priority).toBe(7);
    expect(r.sources[0]?.config).toMatchObject({ devices: 2, interval: 500 });
  });

  it('source plugin schema errors point at the source entry and line', async () => {
    const issues = await allIssues(
      parseConfigText('gateway:\n  sources:\n    sim:\n      type: simulator\n      devices: -1\n'),
    );
    expect(issues).toEqual([{ path: 'gateway.sources.sim.devices', line: 5, message: expect.any(String) as unknown }]);
  });
});

describe('examples/', () => {
  it('every example config is valid, plugin schemas and routing rules included', async () => {
    const dir = join(import.meta.dirname, '..', '..', '..', 'examples');
    const { readdirSync } = await import('node:fs');
    const secret = tmp();
    writeFileSync(join(secret, 'mqtt'), 'example-password\n');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files).toContain('gateway.yaml');
    for (const f of files) {
      const loaded = loadConfigFile(join(dir, f), {
        BIFROST_API_TOKEN: 'example-token',
        MQTT_PASSWORD_FILE: join(secret, 'mqtt'),
      });
      expect(await allIssues(loaded), f).toEqual([]);
    }
  });
});
