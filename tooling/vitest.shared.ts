import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings. `*.integration.test.ts` files need real peers and run only through
 * `test:integration`; plain `*.test.ts` files are unit tests with no network.
 */
export function unitConfig() {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: ['**/*.integration.test.ts', '**/node_modules/**', '**/dist/**'],
      testTimeout: 20_000,
      pool: 'forks',
    },
  });
}

export function integrationConfig() {
  return defineConfig({
    test: {
      include: ['src/**/*.integration.test.ts', 'test/**/*.integration.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 180_000,
      pool: 'forks',
      fileParallelism: false,
    },
  });
}
