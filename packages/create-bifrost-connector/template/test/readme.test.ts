import { expectReadmeOptionsTable } from '@bifrost/connector-testkit';
import { it } from 'vitest';
import { configSchema } from '../src/config.js';

// The README's option table is generated from the schema: after changing an option, run
// `npm run build && node scripts/readme.mjs` and commit the README.
it('README option table matches the config schema', () => {
  expectReadmeOptionsTable(new URL('../README.md', import.meta.url), configSchema);
});
