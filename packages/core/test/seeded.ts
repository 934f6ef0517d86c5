import { onTestFailed } from 'vitest';
import { seededRandom, type Random } from '../src/index.js';

/**
 * A seeded random source for a randomised core test (core cannot use the testkit's `testRandom`,
 * which depends on core): the seed comes from `BIFROST_TEST_SEED` or is drawn fresh, and is printed
 * at once and again when the test fails. Call inside a test.
 */
export function seededTestRandom(label: string): Random {
  const given = process.env.BIFROST_TEST_SEED;
  const seed = given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 32);
  const line = `[${label}] random seed ${seed} (replay with BIFROST_TEST_SEED=${seed})`;
  console.log(line);
  onTestFailed(() => console.error(line));
  return seededRandom(seed);
}
