import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TlsMaterial } from '@bifrost/core';
import type { ConnectorEntry } from './schema.js';

/** Reads a connector's TLS files (relative to `baseDir`) into the `ctx.tls` handed to its plugin. */
export function connectorTls(entry: ConnectorEntry, baseDir: string): TlsMaterial | undefined {
  if (!entry.tls_enabled) return undefined;
  const read = (field: 'ca_file' | 'cert_file' | 'key_file'): string | undefined => {
    const file = entry[field];
    if (file === undefined) return undefined;
    try {
      return readFileSync(resolve(baseDir, file), 'utf8');
    } catch (err) {
      throw new Error(`[bifrost] cannot read ${field} ${resolve(baseDir, file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const tls: TlsMaterial = { rejectUnauthorized: !entry.insecure_skip_verify };
  const ca = read('ca_file');
  const cert = read('cert_file');
  const key = read('key_file');
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (entry.key_passphrase !== undefined) tls.passphrase = entry.key_passphrase;
  if (entry.servername !== undefined) tls.servername = entry.servername;
  return tls;
}
