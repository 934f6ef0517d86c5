import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerTlsPem } from '../tls/fixture.js';

/**
 * Writes a peer's TLS files as `<dir>/tls/ca.pem`, `server.pem` and `server.key` (mode 0600, as
 * servers insist on a private key) and returns that directory, for the peer's own config to name.
 */
export function writeServerTlsFiles(dir: string, tls: ServerTlsPem): string {
  const tlsDir = join(dir, 'tls');
  mkdirSync(tlsDir);
  writeFileSync(join(tlsDir, 'ca.pem'), tls.caPem);
  writeFileSync(join(tlsDir, 'server.pem'), tls.certPem);
  writeFileSync(join(tlsDir, 'server.key'), tls.keyPem, { mode: 0o600 });
  return tlsDir;
}
