import type { TlsMaterial } from '@bifrost/core';
import { silentLogger } from '@bifrost/connector-testkit';
import awsIot, { type AwsIotConnector } from '../../src/index.js';

/** A connector made the way the host makes one: config parsed by the schema, TLS in the context. */
export function makeConnector(config: Record<string, unknown>, tls: TlsMaterial): AwsIotConnector {
  return awsIot.create(awsIot.configSchema.parse(config), {
    name: 'test',
    logger: silentLogger,
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
