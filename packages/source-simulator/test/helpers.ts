import type { PluginContext } from '@bifrost/core';
import { silentLogger } from '@bifrost/connector-testkit';

export function testContext(signal: AbortSignal = new AbortController().signal): PluginContext {
  return { name: 'sim', logger: silentLogger, signal };
}

/** Differences between neighbours: `[b - a, c - b, ...]`. */
export function steps(xs: readonly number[]): number[] {
  const out: number[] = [];
  let prev: number | undefined;
  for (const x of xs) {
    if (prev !== undefined) out.push(x - prev);
    prev = x;
  }
  return out;
}
