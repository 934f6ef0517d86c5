import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { withOptionsTable } from './options-table.js';

/**
 * Asserts that the README at `readmePath` (a path or `file:` URL) carries the option table generated
 * from `schema` between its option markers, so a changed schema with a stale README fails the tests.
 *
 * @example
 * it('README option table matches the schema', () => expectReadmeOptionsTable(new URL('../README.md', import.meta.url), mySchema));
 */
export function expectReadmeOptionsTable(readmePath: string | URL, schema: unknown): void {
  const text = readFileSync(readmePath, 'utf8');
  expect(text, 'README option table is stale: run `pnpm docs:tables` at the repository root').toBe(
    withOptionsTable(text, schema),
  );
}
