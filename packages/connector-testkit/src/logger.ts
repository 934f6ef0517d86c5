import type { Logger } from '@bifrost/core';

/** A logger that records nothing, for connectors and sources under test: tests assert on results, not log lines. */
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
