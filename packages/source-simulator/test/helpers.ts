import type { PluginContext } from '@bifrost/core';
import { silentLogger } from '@bifrost/connector-testkit';

export function testContext(signal: AbortSignal = new AbortController().signal): PluginContext {
  return { name: 'sim', logger: silentLogger, signal };
}
