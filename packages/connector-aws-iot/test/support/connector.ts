import type { Logger, TlsMaterial } from '@bifrost/core';
import { silentLogger } from '@bifrost/connector-testkit';
import awsIot, { type AwsIotConnector } from '../../src/index.js';

/** A connector made the way the host makes one: config parsed by the schema, TLS in the context. */
export function makeConnector(
  config: Record<string, unknown>,
  tls: TlsMaterial,
  logger: Logger = silentLogger,
): AwsIotConnector {
  return awsIot.create(awsIot.configSchema.parse(config), {
    name: 'test',
    logger,
    signal: new AbortController().signal,
    tls,
  }) as AwsIotConnector;
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes; throws with `what` then. */
export async function eventually(check: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A logger that keeps every line, for tests asserting what was logged. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; obj: unknown; msg?: string }> } {
  const lines: Array<{ level: string; obj: unknown; msg?: string }> = [];
  const at =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      lines.push({ level, obj, ...(msg !== undefined && { msg }) });
    };
  const logger = {
    lines,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}
