import { resolve } from 'node:path';
import type { TlsMaterial } from '@bifrost/core';
import { loadTlsMaterial, type TlsFileOptions } from '@bifrost/core/host';
import type { ConnectorEntry } from './schema.js';

/** A connector entry's TLS settings as core's TLS file options, paths resolved against `baseDir`. */
export function tlsFileOptions(entry: ConnectorEntry, baseDir: string): TlsFileOptions {
  const path = (p: string | undefined) => (p === undefined ? undefined : resolve(baseDir, p));
  return {
    ca_file: path(entry.ca_file),
    cert_file: path(entry.cert_file),
    key_file: path(entry.key_file),
    passphrase: entry.key_passphrase,
    servername: entry.servername,
    insecure_skip_verify: entry.insecure_skip_verify,
  };
}

/**
 * Loads and checks a connector's TLS files (paths relative to `baseDir`) once; undefined when
 * `tls_enabled` is false. The running gateway keeps them current with `startConnectorTls`.
 */
export async function connectorTls(entry: ConnectorEntry, baseDir: string): Promise<TlsMaterial | undefined> {
  if (!entry.tls_enabled) return undefined;
  return loadTlsMaterial(tlsFileOptions(entry, baseDir));
}
