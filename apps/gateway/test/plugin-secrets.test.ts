// A third-party plugin written only against @bifrost/core's root export (test/fixtures/
// bifrost-connector-jsonl: `z` and `secret()` from core, no zod of its own) marks its secrets in its
// schema; the gateway must redact them in the REST API and show them in `bifrost schema`.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createMemoryQueue, createPipeline, createRouter, secretPaths } from '@bifrost/core/host';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText, type LoadedConfig } from '../src/config/load.js';
import { REDACTED } from '../src/config/secrets.js';
import type { GatewayConfig } from '../src/config/schema.js';
import { buildApi } from '../src/http/server.js';
import { resolvePlugins } from '../src/plugins/resolve.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const FIXTURE = join(import.meta.dirname, 'fixtures', 'bifrost-connector-jsonl');

// Names chosen so that the key-name heuristic (password, token, ...) would not catch them: only
// the schema's secret() marks can.
const SECRETS = { token: 'tok-3f9a-value', api_secret_word: 'word-77c1-value', phrase: 'nested-5e2b-value' };

const dir = mkdtempSync(join(tmpdir(), 'bifrost-plugin-secrets-'));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(FIXTURE, join(dir, 'node_modules', 'bifrost-connector-jsonl'), 'dir');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = `gateway:
  cloud:
    connectors:
      out:
        type: jsonl
        provider_config:
          path: ${join(dir, 'out.jsonl')}
          token: ${SECRETS.token}
          api_secret_word: ${SECRETS.api_secret_word}
          auth: { user: ann, phrase: ${SECRETS.phrase} }
`;

describe('secrets a plugin marks with secret()', () => {
  it('the fixture plugin declares them in its schema, nested ones included', async () => {
    const plugin = (await import(join(FIXTURE, 'index.js'))) as { default: { configSchema: unknown } };
    expect(secretPaths(plugin.default.configSchema).sort()).toEqual(['api_secret_word', 'auth.phrase', 'token']);
  });

  it('are redacted in GET /api/cloud/connectors/{name}/config and in error text', async () => {
    const loaded = parseConfigText(CONFIG, { baseDir: dir });
    expect(loaded.issues).toEqual([]);
    const resolved = await resolvePlugins(loaded as LoadedConfig & { config: GatewayConfig });
    expect(resolved.issues).toEqual([]);
    const [out] = resolved.connectors;
    expect(out).toMatchObject({ name: 'out', plugin: { name: 'bifrost-connector-jsonl' } });

    const queue = createMemoryQueue();
    const pipeline = createPipeline({
      queue,
      router: createRouter({ connectors: ['out'] }),
      connectors: [{ name: 'out', definition: out!.definition, config: out!.config }],
    });
    const app = buildApi({
      pipeline,
      queue,
      secrets: loaded.secrets,
      connectorConfigs: loaded.config!.cloud.connectors,
      logger: pino({ level: 'silent' }),
      isAccepting: () => true,
      version: '0.0.0-test',
    });
    try {
      const res = await app.inject('/api/cloud/connectors/out/config');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        name: 'out',
        config: {
          type: 'jsonl',
          provider_config: {
            path: join(dir, 'out.jsonl'),
            token: REDACTED,
            api_secret_word: REDACTED,
            auth: { user: 'ann', phrase: REDACTED },
          },
        },
      });
      for (const value of Object.values(SECRETS)) expect(res.body).not.toContain(value);
      // A plugin error echoing a secret value is scrubbed too.
      expect(loaded.secrets.redactText(`auth failed for phrase ${SECRETS.phrase}`)).toBe(
        `auth failed for phrase ${REDACTED}`,
      );
    } finally {
      await app.close();
      await pipeline.stop({ deadlineMs: 1000 });
      await queue.close();
    }
  });

  it('appear in `bifrost schema` with their descriptions, flagged x-secret and writeOnly', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'schema'], { cwd: dir });
    const schema = JSON.parse(stdout) as {
      properties: {
        gateway: { properties: { cloud: { properties: { connectors: { additionalProperties: Entry } } } } };
      };
    };
    type Props = Record<string, Record<string, unknown> & { properties?: Props }>;
    type Entry = { allOf: Array<{ if: { properties: { type: { const: string } } }; then: { properties: Props } }> };
    const entry = schema.properties.gateway.properties.cloud.properties.connectors.additionalProperties;
    const jsonl = entry.allOf.find((b) => b.if.properties.type.const === 'jsonl');
    expect(jsonl, 'the jsonl plugin is applied by type').toBeDefined();
    const props = jsonl!.then.properties.provider_config!.properties!;
    expect(props.token).toMatchObject({
      type: 'string',
      description: 'Pretend credential, to test redaction.',
      'x-secret': true,
      writeOnly: true,
    });
    expect(props.api_secret_word).toMatchObject({ description: 'Another pretend credential.', 'x-secret': true });
    expect(props.auth!.properties!.phrase).toMatchObject({
      description: 'Pretend nested credential.',
      'x-secret': true,
      writeOnly: true,
    });
    expect(props.auth!.properties!.user).not.toHaveProperty('x-secret');
    expect(props.path).toMatchObject({ type: 'string' });
    expect(props.path).not.toHaveProperty('writeOnly');
  });
});
