import type { Logger } from '../plugin.js';
import { DEFAULT_EXPIRY_WARNING_MS, expiringSoon, type TlsExpiryGauge } from './expiry.js';
import type { TlsFileOptions } from './load.js';
import type { TlsMaterial } from './types.js';
import { watchTlsMaterial, type TlsWatchOptions } from './watch.js';

export interface ConnectorTlsOptions {
  /** `type:name` of the connector, the gauge label and log context. */
  connector: string;
  files: TlsFileOptions;
  logger: Logger;
  /** Where the expiry metric is kept (see `registerTlsExpiryGauge`). */
  gauge?: TlsExpiryGauge;
  /** Warn when a certificate expires within this long. Default 14 days. */
  warnBeforeMs?: number;
  /** How often the expiry warning is re-checked while running. Default 12 h. */
  recheckIntervalMs?: number;
  /** Called with new material after a rotation passed every check (reconnect the connector with it). */
  onRotate?: (material: TlsMaterial) => void;
  watch?: Omit<TlsWatchOptions, 'onError'>;
}

/** The TLS material of one connector, kept current. */
export interface ConnectorTls {
  readonly material: TlsMaterial;
  close(): void;
}

/**
 * Everything the host does for a connector's TLS files, in one call: load and check them (throws the
 * `ConfigError` naming the file), publish their expiry on the gauge, warn ahead of expiry (at start,
 * then every `recheckIntervalMs`), and watch them so a rotation reaches `onRotate` without a
 * restart. A rotation that fails the checks is logged as an error and the old material stays.
 */
export async function manageConnectorTls(opts: ConnectorTlsOptions): Promise<ConnectorTls> {
  const { connector, logger, gauge } = opts;
  const warnBeforeMs = opts.warnBeforeMs ?? DEFAULT_EXPIRY_WARNING_MS;
  const warnIfExpiring = (material: TlsMaterial): void => {
    for (const e of expiringSoon(material, warnBeforeMs)) {
      const left = e.secondsLeft <= 0 ? 'has expired' : `expires in ${Math.ceil(e.secondsLeft / 86_400)} day(s)`;
      logger.warn(
        {
          connector,
          file: e.file,
          path: opts.files[e.file],
          subject: e.subject,
          expiresAt: new Date(e.expiresAt).toISOString(),
        },
        `TLS certificate in ${e.file} ${left}: rotate it (the new files are picked up without a restart)`,
      );
    }
  };

  const watcher = await watchTlsMaterial(
    opts.files,
    (material) => {
      logger.info({ connector }, 'TLS files changed and passed the checks; using the new certificates');
      gauge?.set(connector, material);
      warnIfExpiring(material);
      opts.onRotate?.(material);
    },
    {
      ...opts.watch,
      onError: (err) =>
        logger.error(
          { connector, err },
          `TLS files changed but cannot be used; keeping the previous certificates: ${(err as Error).message}`,
        ),
    },
  );

  gauge?.set(connector, watcher.material);
  warnIfExpiring(watcher.material);
  const recheck = setInterval(() => warnIfExpiring(watcher.material), opts.recheckIntervalMs ?? 12 * 3_600_000);
  recheck.unref();

  return {
    get material() {
      return watcher.material;
    },
    close() {
      clearInterval(recheck);
      watcher.close();
      gauge?.delete(connector);
    },
  };
}
