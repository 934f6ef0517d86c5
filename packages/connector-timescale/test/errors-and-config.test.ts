import { describe, expect, it } from 'vitest';
import { AuthError, CapacityError, ConfigError, PayloadError, TransientError } from '@bifrost/core';
import { classifyPgError, isDataError, poolConfig, sslOptions, timescaleConfigSchema } from '../src/index.js';
import { expectEveryOptionDescribed, expectReadmeOptionsTable } from '@bifrost/connector-testkit';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code, severity: 'ERROR' });

describe('classifyPgError', () => {
  it.each([
    ['28P01', AuthError],
    ['28000', AuthError],
    ['42501', AuthError],
    ['53300', CapacityError],
    ['53100', CapacityError],
    ['57P01', CapacityError],
    ['57P03', CapacityError],
    ['22021', PayloadError],
    ['22P05', PayloadError],
    ['23514', PayloadError],
    ['08006', TransientError],
    ['08001', TransientError],
    ['40P01', TransientError],
    ['57014', TransientError],
    ['3D000', ConfigError],
    ['42P01', ConfigError],
    ['42703', ConfigError],
  ])('SQLSTATE %s is %o', (code, cls) => {
    const e = classifyPgError(pgError(code));
    expect(e).toBeInstanceOf(cls);
    expect(e.code).toBe(`BIFROST_ERR_PG_${code}`);
    expect(e.message).toMatch(new RegExp(`^PostgreSQL ${code}: boom`));
  });
  it('classifies errors without SQLSTATE through core (network)', () => {
    const e = classifyPgError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(e).toBeInstanceOf(TransientError);
    expect(e.code).toBe('BIFROST_ERR_NET_ECONNREFUSED');
  });
  it('tells data errors apart', () => {
    expect(isDataError(pgError('22021'))).toBe(true);
    expect(isDataError(pgError('23505'))).toBe(true);
    expect(isDataError(pgError('08006'))).toBe(false);
    expect(isDataError(new Error('x'))).toBe(false);
  });
});

describe('config and connection settings', () => {
  const tls = { ca: 'CA PEM', cert: 'CERT', key: 'KEY', rejectUnauthorized: true };
  it('takes the endpoint URL apart, explicit fields win', () => {
    const c = timescaleConfigSchema.parse({
      endpoint: 'postgres://bi%40frost:s%3Acret@db.example.com:6543/plant',
      database: 'other',
    });
    expect(poolConfig(c, undefined)).toMatchObject({
      host: 'db.example.com',
      port: 6543,
      user: 'bi@frost',
      password: 's:cret',
      database: 'other',
      ssl: false,
      max: 4,
      statement_timeout: 30_000,
      connectionTimeoutMillis: 10_000,
    });
  });
  it('defaults to verify-full when the host hands over TLS material', () => {
    const c = timescaleConfigSchema.parse({ endpoint: 'postgres://u@h/db' });
    expect(poolConfig(c, tls).ssl).toEqual({
      ca: 'CA PEM',
      cert: 'CERT',
      key: 'KEY',
      passphrase: undefined,
      rejectUnauthorized: true,
    });
  });
  it('maps sslmodes to pg TLS options', () => {
    expect(sslOptions('disable', tls)).toBe(false);
    expect(sslOptions('require', tls)).toMatchObject({ rejectUnauthorized: false });
    const ca = sslOptions('verify-ca', tls) as { checkServerIdentity: () => unknown; rejectUnauthorized: boolean };
    expect(ca.rejectUnauthorized).toBe(true);
    expect(ca.checkServerIdentity()).toBeUndefined();
    expect(sslOptions('verify-full', { ...tls, servername: 'db.internal' })).toMatchObject({
      rejectUnauthorized: true,
      servername: 'db.internal',
    });
  });
  it('honours the URL sslmode and refuses unsupported ones', () => {
    expect(
      poolConfig(timescaleConfigSchema.parse({ endpoint: 'postgres://u@h/db?sslmode=require' }), undefined).ssl,
    ).toMatchObject({ rejectUnauthorized: false });
    expect(() =>
      poolConfig(timescaleConfigSchema.parse({ endpoint: 'postgres://u@h/db?sslmode=prefer' }), undefined),
    ).toThrow(/sslmode "prefer"/);
  });
  it('names the field at fault', () => {
    const issues = (raw: unknown) =>
      timescaleConfigSchema.safeParse(raw).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({})).toEqual(['endpoint: endpoint (a postgres:// URL) or host is required']);
    expect(issues({ host: 'h', table: 'bad name' })?.[0]).toMatch(/^table: table must be a plain SQL identifier/);
    expect(issues({ endpoint: 'mysql://h' })?.[0]).toMatch(/^endpoint: /);
  });
  it('describes every field and marks the password secret', () => {
    expectEveryOptionDescribed(timescaleConfigSchema, { secrets: ['password'] });
  });
});

describe('README', () => {
  it('carries the option table generated from the schema (`pnpm docs:tables`)', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), timescaleConfigSchema);
  });
});
