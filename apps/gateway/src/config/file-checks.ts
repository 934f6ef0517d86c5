import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { formatPath, type ConfigIssue, type PathSegment } from './issues.js';
import type { LoadedConfig } from './load.js';
import type { GatewayConfig } from './schema.js';
import { connectorTls } from './tls-files.js';

const TLS_FIELDS = ['ca_file', 'cert_file', 'key_file', 'key_passphrase'] as const;

/**
 * Checks the files the host loads itself: each enabled connector's TLS files (parsed, validity
 * dates, key matches certificate, chain; see core `loadTlsMaterial`) and the API's TLS files.
 */
export async function hostFileChecks(loaded: LoadedConfig & { config: GatewayConfig }): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  const at = (path: PathSegment[], message: string) =>
    issues.push({
      path: formatPath(path),
      line: loaded.locator.lineOf(path),
      message: loaded.secrets.redactText(message),
    });
  for (const [name, entry] of Object.entries(loaded.config.cloud.connectors)) {
    if (!entry.enabled || !entry.tls_enabled) continue;
    try {
      await connectorTls(entry, loaded.baseDir);
    } catch (err) {
      const message = (err as Error).message.replace(/^\[bifrost\] (\[[^\]]*\] )?/, '');
      const field = TLS_FIELDS.find((f) => message.includes(f)) ?? 'tls_enabled';
      at(['gateway', 'cloud', 'connectors', name, field], message);
    }
  }
  const tls = loaded.config.api.tls;
  if (tls) {
    for (const field of ['cert_file', 'key_file', 'ca_file'] as const) {
      const file = tls[field];
      if (file === undefined) continue;
      try {
        accessSync(resolve(loaded.baseDir, file), constants.R_OK);
      } catch (err) {
        at(
          ['gateway', 'api', 'tls', field],
          `cannot read ${resolve(loaded.baseDir, file)}: ${(err as NodeJS.ErrnoException).code}`,
        );
      }
    }
  }
  return issues;
}
