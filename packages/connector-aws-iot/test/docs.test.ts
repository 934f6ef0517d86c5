import { describe, it } from 'vitest';
import { expectEveryOptionDescribed, expectReadmeOptionsTable } from '@bifrost/connector-testkit';
import { awsIotConfigSchema } from '../src/index.js';

describe('awsIotConfigSchema docs', () => {
  it('describes every option (they feed the README table); no secrets in the config itself', () => {
    expectEveryOptionDescribed(awsIotConfigSchema, { secrets: [] });
  });
  it('README option table matches the schema', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), awsIotConfigSchema);
  });
});
