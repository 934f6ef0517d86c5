import type { Connector, ConnectorDefinition, Logger, TlsMaterial } from '@bifrost/core';
import { manageConnectorTls, type TlsExpiryGauge } from '@bifrost/core/host';
import { tlsFileOptions } from './config/tls-files.js';
import type { ConnectorEntry } from './config/schema.js';

/** A connector's TLS files, watched for rotation while the gateway runs. */
export interface RotatingTls {
  /**
   * What the plugin gets as `ctx.tls`: every property read returns the certificates in use now, so a
   * connector that reads `ctx.tls` in `connect()` gets the rotated files on its next connect.
   */
  readonly material: TlsMaterial;
  /** Calls `listener` after each rotation whose files passed every check. */
  onRotate(listener: () => void): void;
  close(): void;
}

/**
 * Loads a connector's TLS files (throws the `ConfigError` naming a bad file), publishes their expiry
 * on `gauge`, warns 14 days ahead, and watches them for rotation (core `manageConnectorTls`).
 */
export async function startConnectorTls(
  entry: ConnectorEntry,
  baseDir: string,
  opts: { connector: string; logger: Logger; gauge: TlsExpiryGauge; debounceMs?: number },
): Promise<RotatingTls> {
  const listeners: Array<() => void> = [];
  const managed = await manageConnectorTls({
    connector: opts.connector,
    files: tlsFileOptions(entry, baseDir),
    logger: opts.logger,
    gauge: opts.gauge,
    onRotate: () => {
      for (const l of listeners) l();
    },
    ...(opts.debounceMs !== undefined ? { watch: { debounceMs: opts.debounceMs } } : {}),
  });
  const now = () => managed.material;
  const material: TlsMaterial = {
    get ca() {
      return now().ca;
    },
    get cert() {
      return now().cert;
    },
    get key() {
      return now().key;
    },
    get passphrase() {
      return now().passphrase;
    },
    get servername() {
      return now().servername;
    },
    get rejectUnauthorized() {
      return now().rejectUnauthorized;
    },
  };
  return { material, onRotate: (l) => listeners.push(l), close: () => managed.close() };
}

/**
 * The connector plugin with one change: after a TLS rotation its next write first closes and
 * reopens the connection, so the new certificates are used without a restart and without a failed
 * write. Writes already on the wire finish on (or fail with) the old connection and are retried by
 * the pipeline as usual; nothing is acked that the remote did not ack.
 */
export function reconnectOnRotation(definition: ConnectorDefinition, tls: RotatingTls): ConnectorDefinition {
  return {
    ...definition,
    create(config, ctx) {
      const inner = definition.create(config, ctx);
      let stale = false;
      let reconnecting: Promise<void> | undefined;
      tls.onRotate(() => {
        stale = true;
      });
      const fresh = async (): Promise<void> => {
        if (!stale) return reconnecting;
        stale = false;
        ctx.logger.info({}, 'reconnecting with the rotated TLS certificates');
        reconnecting = (async () => {
          await inner.close();
          await inner.connect();
        })().finally(() => {
          reconnecting = undefined;
        });
        return reconnecting;
      };
      const wrapped: Connector = {
        connect: () => {
          stale = false; // a connect of the host's own reads the current certificates anyway
          return inner.connect();
        },
        close: () => inner.close(),
        async write(batch, options) {
          await fresh();
          return inner.write(batch, options);
        },
      };
      if (inner.healthCheck) wrapped.healthCheck = () => inner.healthCheck!();
      return wrapped;
    },
  };
}
