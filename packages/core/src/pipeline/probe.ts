import { classifyError, type ErrorKind } from '../errors.js';
import type { Connector, ConnectorDefinition, Logger } from '../plugin.js';
import type { TlsMaterial } from '../tls/types.js';
import { withTimeout } from './timeout.js';

/** The outcome of {@link probeConnector}. */
export interface ConnectionTestResult {
  ok: boolean;
  /** Connect plus health probe, ms. */
  durationMs: number;
  /** What the connector's own health probe said, when it has one. */
  detail?: string;
  /** The classified error when the test failed. */
  error?: { kind: ErrorKind; code: string; message: string };
}

export interface ProbeOptions {
  name: string;
  logger: Logger;
  tls?: TlsMaterial;
  /** Upper bound for the connect and for the probe, each. */
  timeoutMs: number;
}

/**
 * A connection test (seed 002's "connection testing"): a fresh instance of the connector connects,
 * runs its health probe if it has one, and closes, each step under `timeoutMs`. The running
 * connector, its queue and its breaker are not touched, so it is safe on a live gateway and before
 * deployment.
 */
export async function probeConnector(
  definition: ConnectorDefinition,
  config: unknown,
  opts: ProbeOptions,
): Promise<ConnectionTestResult> {
  const label = `${definition.type}:${opts.name}`;
  const closing = new AbortController();
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let connector: Connector | undefined;
  try {
    connector = definition.create(config, {
      name: opts.name,
      logger: opts.logger,
      tls: opts.tls,
      signal: closing.signal,
      probe: true,
    });
    await withTimeout(() => connector?.connect(), opts.timeoutMs, 'connect', 'BIFROST_ERR_CONNECT_TIMEOUT');
    const probe = connector.healthCheck?.bind(connector);
    const health = probe
      ? await withTimeout(probe, opts.timeoutMs, 'health check', 'BIFROST_ERR_HEALTH_CHECK_TIMEOUT')
      : undefined;
    const result: ConnectionTestResult = { ok: health?.ok ?? true, durationMs: elapsed() };
    if (health?.detail !== undefined) result.detail = health.detail;
    return result;
  } catch (err) {
    const e = classifyError(err, label);
    return { ok: false, durationMs: elapsed(), error: { kind: e.kind, code: e.code, message: e.message } };
  } finally {
    closing.abort();
    await withTimeout(() => connector?.close(), opts.timeoutMs, 'close', 'BIFROST_ERR_CONNECT_TIMEOUT').catch(
      () => undefined,
    );
  }
}
