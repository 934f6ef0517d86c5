import { describe, expect, it } from 'vitest';
import { durationSchema, z, secret } from '@bifrost/core';
import { OPTIONS_END, OPTIONS_START, optionRows, optionsTable, withOptionsTable } from '../src/docs/index.js';
import { expectEveryOptionDescribed } from '../src/docs/expect-described.js';

const schema = z
  .object({
    endpoint: z.string().describe('Where to | send.'),
    port: z.number().int().optional().describe('Port.'),
    qos: z
      .union([z.literal(0), z.literal(1)])
      .default(1)
      .describe('QoS.'),
    mode: z.enum(['a', 'b']).default('a').describe('Mode.'),
    tags: z.array(z.string()).default([]).describe('Tags.'),
    timeout: durationSchema.prefault('30s').describe('Timeout.'),
  })
  .refine(() => true);

describe('optionRows', () => {
  it('reads type, default and description through refinements, defaults and optionals', () => {
    expect(optionRows(schema)).toEqual([
      { key: 'endpoint', type: 'string', default: 'required', description: 'Where to | send.' },
      { key: 'port', type: 'integer', default: '', description: 'Port.' },
      { key: 'qos', type: '`0` | `1`', default: '`1`', description: 'QoS.' },
      { key: 'mode', type: '`a` | `b`', default: '`"a"`', description: 'Mode.' },
      { key: 'tags', type: 'list of string', default: '`[]`', description: 'Tags.' },
      { key: 'timeout', type: 'duration', default: '`"30s"`', description: 'Timeout.' },
    ]);
  });

  it('names the problem when the schema is not an object', () => {
    expect(() => optionRows(z.string())).toThrow(/must be a z\.object \(got ZodString\)/);
  });
});

describe('optionRows: secrets and examples', () => {
  it('marks fields made with secret() and lists examples metadata', () => {
    const s = z.object({
      password: secret(z.string()).optional().describe('Broker password.'),
      token: secret(z.string().default('')).describe('API token.'),
      topic: z
        .string()
        .meta({ examples: ['plant/a', 'plant/b'] })
        .optional()
        .describe('Topic.'),
    });
    expect(optionRows(s)).toEqual([
      { key: 'password', type: 'string (secret)', default: '', description: 'Broker password.' },
      { key: 'token', type: 'string (secret)', default: '`""`', description: 'API token.' },
      { key: 'topic', type: 'string', default: '', description: 'Topic. Examples: `"plant/a"`, `"plant/b"`.' },
    ]);
  });
});

describe('optionsTable', () => {
  it('renders markdown with pipes escaped', () => {
    const lines = optionsTable(schema).split('\n');
    expect(lines[0]).toBe('| Option | Type | Default | Description |');
    expect(lines[2]).toBe('| `endpoint` | string | required | Where to \\| send. |');
    expect(lines[4]).toBe('| `qos` | `0` \\| `1` | `1` | QoS. |');
    expect(lines).toHaveLength(8);
  });
});

describe('withOptionsTable', () => {
  it('replaces only the text between the markers, keeping a custom start comment', () => {
    const readme = `# x\n<!-- options:start (custom) -->\nold\n${OPTIONS_END}\nafter\n`;
    const out = withOptionsTable(readme, schema);
    expect(out).toBe(`# x\n<!-- options:start (custom) -->\n${optionsTable(schema)}\n${OPTIONS_END}\nafter\n`);
    expect(withOptionsTable(out, schema)).toBe(out);
  });

  it('names the markers when they are missing', () => {
    expect(() => withOptionsTable('# no table\n', schema)).toThrow(OPTIONS_START);
  });
});

describe('expectEveryOptionDescribed', () => {
  it('passes a described schema and fails on an undescribed option or an unmarked secret', () => {
    expectEveryOptionDescribed(z.strictObject({ password: secret(z.string()).describe('Password.') }), {
      secrets: ['password'],
    });
    expect(() => expectEveryOptionDescribed(z.object({ host: z.string() }))).toThrow(/host/);
    expect(() =>
      expectEveryOptionDescribed(z.object({ token: z.string().describe('Token.') }), { secrets: ['token'] }),
    ).toThrow(/secret/);
    // A field marked secret() that the caller did not list fails too: the list is exact.
    expect(() => expectEveryOptionDescribed(z.object({ key: secret(z.string()).describe('Key.') }))).toThrow(/secret/);
  });
});
