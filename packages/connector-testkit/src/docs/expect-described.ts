import { expect } from 'vitest';
import { optionRows } from './options-table.js';

/**
 * Asserts that every option of a plugin config schema has a description (the option table and the
 * editor schema are generated from them), and that the options named in `secrets` say `(secret)`.
 *
 * @example
 * it('describes every field and marks secrets', () => expectEveryOptionDescribed(mySchema, { secrets: ['password'] }));
 */
export function expectEveryOptionDescribed(schema: unknown, opts: { secrets?: readonly string[] } = {}): void {
  const rows = optionRows(schema);
  expect(rows.length, 'the schema has options').toBeGreaterThan(0);
  for (const row of rows) expect(row.description, row.key).toBeTruthy();
  for (const key of opts.secrets ?? []) {
    const row = rows.find((r) => r.key === key);
    expect(row, `secret option ${key}`).toBeDefined();
    expect(row?.description, key).toMatch(/\(secret\)/);
  }
}
