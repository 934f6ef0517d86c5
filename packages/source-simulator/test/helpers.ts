import type { Logger, PluginContext } from '@bifrost/core';

/** A logger that records nothing: unit tests assert on stats, not on log lines. */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

export function testContext(signal: AbortSignal = new AbortController().signal): PluginContext {
  return { name: 'sim', logger: silentLogger, signal };
}
