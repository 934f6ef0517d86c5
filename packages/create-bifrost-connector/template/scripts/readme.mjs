// Rewrites the option table of README.md (between the options markers) from the built schema.
import { writeReadmeOptionsTable } from '@bifrost/connector-testkit/docs';
import { configSchema } from '../dist/config.js';

writeReadmeOptionsTable(new URL('../README.md', import.meta.url).pathname, configSchema);
