import { describe, expect, it } from 'vitest';
import { z } from '../index.js';
import { durationSchema } from './duration.js';
import { isSecretSchema, secret, secretPaths, SECRET_META_KEY } from './secret.js';

describe('secret()', () => {
  it('marks a field and survives optional, default, nullable and describe in either order', () => {
    expect(isSecretSchema(secret(z.string()))).toBe(true);
    expect(isSecretSchema(secret(z.string()).optional())).toBe(true);
    expect(isSecretSchema(secret(z.string().optional()).describe('pw'))).toBe(true);
    expect(isSecretSchema(secret(z.string()).default('x').describe('pw'))).toBe(true);
    expect(isSecretSchema(secret(z.string()).nullable().optional())).toBe(true);
    expect(isSecretSchema(secret(z.string()).transform((s) => s.trim()))).toBe(true);
    expect(isSecretSchema(z.string().describe('Password (secret).'))).toBe(false);
    expect(isSecretSchema(z.string().optional())).toBe(false);
  });

  it('keeps the description and shows in JSON Schema as x-secret and writeOnly', () => {
    const field = secret(z.string()).optional().describe('Broker password.');
    expect(field.description).toBe('Broker password.');
    const json = z.toJSONSchema(z.object({ password: field }), { io: 'input' }) as {
      properties: Record<string, Record<string, unknown>>;
    };
    expect(json.properties.password).toMatchObject({
      type: 'string',
      description: 'Broker password.',
      [SECRET_META_KEY]: true,
      writeOnly: true,
    });
  });

  it('does not mark the schema it was given', () => {
    const base = z.string();
    secret(base);
    expect(isSecretSchema(base)).toBe(false);
  });
});

describe('secretPaths', () => {
  it('lists secret fields at any depth, through wrappers, unions, maps and lists', () => {
    const schema = z
      .strictObject({
        username: z.string().optional(),
        password: secret(z.string()).optional().describe('pw'),
        timeout: durationSchema.prefault('5s'),
        sasl: z
          .object({
            mechanism: z.enum(['plain', 'scram-sha-256']),
            password: secret(z.string()).default(''),
          })
          .optional(),
        auth: z
          .union([
            z.object({ kind: z.literal('token'), token: secret(z.string()) }),
            z.object({ kind: z.literal('key'), key: z.object({ passphrase: secret(z.string()).nullable() }) }),
          ])
          .prefault({ kind: 'token', token: '' }),
        users: z.record(z.string(), z.object({ api_key: secret(z.string()) })).default({}),
        brokers: z.array(z.object({ url: z.string(), token: secret(z.string().optional()) })).optional(),
      })
      .superRefine(() => {});
    expect(secretPaths(schema).sort()).toEqual([
      'auth.key.passphrase',
      'auth.token',
      'brokers[].token',
      'password',
      'sasl.password',
      'users.*.api_key',
    ]);
  });

  it('is empty for a schema without secrets or a non-object', () => {
    expect(secretPaths(z.object({ a: z.string(), b: z.object({ c: z.number() }) }))).toEqual([]);
    expect(secretPaths(z.string())).toEqual([]);
    expect(secretPaths({})).toEqual([]);
    expect(isSecretSchema(undefined)).toBe(false);
  });
});
