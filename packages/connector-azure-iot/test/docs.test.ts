import { describe, it } from 'vitest';
import { expectEveryOptionDescribed, expectReadmeOptionsTable } from '@bifrost/connector-testkit';
import { azureIotConfigSchema } from '../src/index.js';

describe('azureIotConfigSchema docs', () => {
  it('describes every option (they feed the README table); the connection string is the secret', () => {
    expectEveryOptionDescribed(azureIotConfigSchema, { secrets: ['connection_string'] });
  });
  it('README option table matches the schema', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), azureIotConfigSchema);
  });
});
