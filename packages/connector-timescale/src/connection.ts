import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { ConfigError, type TlsMaterial } from '@bifrost/core';
import { SSL_MODES, type SslMode, type TimescaleConfig } from './config.js';

/** The `ssl` option of `pg` for an sslmode, with the host's TLS material (CA, client certificate). */
export function sslOptions(mode: SslMode, tls: TlsMaterial | undefined): false | ConnectionOptions {
  if (mode === 'disable') return false;
  const material: ConnectionOptions = { ca: tls?.ca, cert: tls?.cert, key: tls?.key, passphrase: tls?.passphrase };
  if (mode === 'require' || tls?.rejectUnauthorized === false) return { ...material, rejectUnauthorized: false };
  if (mode === 'verify-ca') return { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...material, rejectUnauthorized: true, ...(tls?.servername ? { servername: tls.servername } : {}) };
}

/**
 * `pg` pool settings from the config: the endpoint URL's parts, overridden by explicit fields.
 * The URL is taken apart here (not handed to `pg` as a connection string) so that its `sslmode`
 * cannot silently replace the verified TLS settings.
 */
export function poolConfig(c: TimescaleConfig, tls: TlsMaterial | undefined): PoolConfig {
  const url = c.endpoint ? new URL(c.endpoint) : undefined;
  const fromUrl = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
  const urlMode = url?.searchParams.get('sslmode') ?? undefined;
  if (urlMode && !(SSL_MODES as readonly string[]).includes(urlMode)) {
    throw new ConfigError(`endpoint sslmode "${urlMode}" is not supported; use one of ${SSL_MODES.join(', ')}`, {
      code: 'BIFROST_ERR_PG_SSLMODE',
    });
  }
  const mode: SslMode = c.ssl_mode ?? (urlMode as SslMode | undefined) ?? (tls ? 'verify-full' : 'disable');
  return {
    host: c.host ?? fromUrl(url?.hostname.replace(/^\[|\]$/g, '')) ?? 'localhost',
    port: c.port ?? (url?.port ? Number(url.port) : 5432),
    database: c.database ?? fromUrl(url?.pathname.replace(/^\//, '')),
    user: c.username ?? fromUrl(url?.username),
    password: c.password ?? fromUrl(url?.password),
    ssl: sslOptions(mode, tls),
    max: c.pool_size,
    connectionTimeoutMillis: c.connect_timeout,
    idleTimeoutMillis: 30_000,
    application_name: c.application_name,
    statement_timeout: c.statement_timeout,
  };
}
