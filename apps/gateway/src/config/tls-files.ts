import { resolve } from 'node:path';
import { loadTlsMaterial, type TlsMaterial } from '@bifrost/core';
import type { ConnectorEntry } from './schema.js';

/**
 * Loads and checks a connector's TLS files (paths relative to `baseDir`) into the `ctx.tls` handed
 * to its plugin; undefined when `tls_enabled` is false.
 */
export async function connectorTls(entry: ConnectorEntry, baseDir: string): Promise<TlsMaterial | undefined> {
  if (!entry.tls_enabled) return undefined;
  const path = (p: string | undefined) => (p === undefined ? undefined : resolve(baseDir, p));
  return loadTlsMaterial({
    ca_file: path(entry.ca_file),
    cert_file: path(entry.cert_file),
    key_file: path(entry.key_file),
    passphrase: entry.key_passphrase,
    servername: entry.servername,
    insecure_skip_verify: entry.insecure_skip_verify,
  });
}
