import { seededRandom, type Random } from '@bifrost/core';
import { onTestFailed } from 'vitest';

/**
 * A seeded random source for a randomised test: the seed comes from `BIFROST_TEST_SEED` (to replay
 * a failure) or is drawn fresh; it is printed at once and again if the test fails. Call inside a test.
 */
export function testRandom(label = 'test'): { seed: number; random: Random } {
  const given = process.env.BIFROST_TEST_SEED;
  const seed = given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 32);
  const line = `[${label}] random seed ${seed} (replay with BIFROST_TEST_SEED=${seed})`;
  console.log(line);
  onTestFailed(() => console.error(line));
  return { seed, random: seededRandom(seed) };
}
