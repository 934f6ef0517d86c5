import { expect } from 'vitest';
import { secretPaths } from '@bifrost/core/host';
import { optionRows } from './options-table.js';

/**
 * Asserts that every option of a plugin config schema has a description (the option table and the
 * editor schema are generated from them), and that exactly the options named in `secrets` are marked
 * with core's `secret()` (redacted in logs and API answers).
 *
 * @example
 * it('describes every field and marks secrets', () => expectEveryOptionDescribed(mySchema, { secrets: ['password'] }));
 */
export function expectEveryOptionDescribed(schema: unknown, opts: { secrets?: readonly string[] } = {}): void {
  const rows = optionRows(schema);
  expect(rows.length, 'the schema has options').toBeGreaterThan(0);
  for (const row of rows) expect(row.description, row.key).toBeTruthy();
  expect([...secretPaths(schema)].sort(), 'options marked secret()').toEqual([...(opts.secrets ?? [])].sort());
}
