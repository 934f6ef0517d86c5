import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/load.js';
import { REDACTED, SecretRegistry, isSecretKey } from '../src/config/secrets.js';
import { createLogger } from '../src/logging.js';

function capture(): { stream: Writable; lines: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, lines: () => chunks.join('') };
}

describe('secret redaction', () => {
  it('recognises secret keys', () => {
    for (const k of [
      'password',
      'key_passphrase',
      'token',
      'api_key',
      'sas_key',
      'client_secret',
      'access_key',
      'connection_string',
    ])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of ['username', 'topic', 'cert_file', 'client_id', 'endpoint']) expect(isSecretKey(k), k).toBe(false);
  });

  it('redacts by key deep inside objects and arrays, and by value inside free text', () => {
    const s = new SecretRegistry();
    s.add('pa55word-xyz');
    s.addKey('shared_phrase');
    const out = s.redact({
      a: [{ password: 'anything', shared_phrase: 'p', note: 'the pa55word-xyz leaked' }],
      token: '',
      n: 1,
    });
    expect(out).toEqual({
      a: [{ password: REDACTED, shared_phrase: REDACTED, note: `the ${REDACTED} leaked` }],
      token: '',
      n: 1,
    });
  });

  it('config secrets from YAML and ${ENV} never reach the log, even inside error messages', () => {
    const loaded = parseConfigText(
      'gateway:\n  api: { token: "${GW_TOKEN}" }\n  cloud:\n    connectors:\n      a: { type: mqtt, provider_config: { password: "yaml-secret-1" } }\n',
      { env: { GW_TOKEN: 'env-secret-2' } },
    );
    expect(loaded.issues).toEqual([]);
    const { stream, lines } = capture();
    const log = createLogger('info', loaded.secrets, { destination: stream });
    log.error({ err: new Error('auth failed with password yaml-secret-1') }, 'connect failed');
    log.info({ headers: { token: 'env-secret-2' } }, 'token env-secret-2 in message');
    log.child({ connector: 'mqtt:a' }).warn('child yaml-secret-1');
    const text = lines();
    expect(text).toContain('connect failed');
    expect(text).not.toContain('yaml-secret-1');
    expect(text).not.toContain('env-secret-2');
    expect(text.match(/\*\*\*/g)!.length).toBeGreaterThanOrEqual(4);
  });

  it('redacts the password of any URL (mqtt://bob:PASS@host) in the config, the log and free text', () => {
    const loaded = parseConfigText(
      'gateway:\n  cloud:\n    connectors:\n      a: { type: mqtt, endpoint: "mqtt://bob:S3cr%40t-pw@broker:1883" }\n',
    );
    expect(loaded.issues).toEqual([]);
    const { stream, lines } = capture();
    const log = createLogger('info', loaded.secrets, { destination: stream });
    log.info({ endpoint: 'mqtt://bob:S3cr%40t-pw@broker:1883' }, 'connector a -> mqtt://bob:S3cr%40t-pw@broker:1883');
    log.error({ err: new Error('server said: bad password S3cr@t-pw') }, 'connect failed');
    const text = lines();
    expect(text).not.toMatch(/S3cr/);
    expect(text).toContain(`mqtt://bob:${REDACTED}@broker:1883`);
    expect(loaded.secrets.redact({ endpoint: 'amqps://u:p@h/v', note: 'see https://x:yz@h' })).toEqual({
      endpoint: `amqps://u:${REDACTED}@h/v`,
      note: `see https://x:${REDACTED}@h`,
    });
  });
});
