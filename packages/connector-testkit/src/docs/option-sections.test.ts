import { describe, expect, it } from 'vitest';
import { z } from '@bifrost/core';
import { optionSections, optionSectionsMarkdown, optionsTable } from './index.js';

const rule = z.object({ name: z.string().describe('Rule name.') }).strict();
const config = z.object({
  port: z.number().int().default(8080).describe('Port.'),
  api: z
    .object({ host: z.string().default('127.0.0.1').describe('Host.') })
    .prefault({})
    .describe('REST API.'),
  connectors: z
    .record(z.string(), z.object({ type: z.string().describe('Plugin type.') }))
    .default({})
    .describe('Connectors by name.'),
  rules: z.array(rule).optional().describe('Routing rules.'),
  labels: z.record(z.string(), z.string()).optional().describe('Plain map: no section of its own.'),
});

describe('optionSections', () => {
  it('walks nested objects, maps of objects and lists of objects depth first, through wrappers', () => {
    const sections = optionSections(config.prefault({}), 'gateway');
    expect(sections.map((s) => [s.path, s.description])).toEqual([
      ['gateway', ''],
      ['gateway.api', 'REST API.'],
      ['gateway.connectors.<name>', 'Connectors by name.'],
      ['gateway.rules[]', 'Routing rules.'],
    ]);
    expect(sections[0]?.rows.map((r) => r.key)).toEqual(['port', 'api', 'connectors', 'rules', 'labels']);
    expect(sections[1]?.rows).toEqual([
      { key: 'host', type: 'string', default: '`"127.0.0.1"`', description: 'Host.' },
    ]);
  });

  it('renders a heading, the description and the same table as optionsTable per section', () => {
    const md = optionSectionsMarkdown(config, 'gateway');
    expect(
      md.startsWith(`#### \`gateway\`\n\n${optionsTable(config)}\n\n#### \`gateway.api\`\n\nREST API.\n\n| Option |`),
    ).toBe(true);
    expect(md).toContain(
      '#### `gateway.rules[]`\n\nRouting rules.\n\n| Option | Type | Default | Description |\n| --- | --- | --- | --- |\n| `name` | string | required | Rule name. |',
    );
  });
});
