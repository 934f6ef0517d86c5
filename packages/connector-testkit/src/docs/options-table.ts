// `@bifrost/connector-testkit/docs`: a plugin's README option table, generated from its zod config
// schema (the single source of truth). No vitest here: the root `pnpm docs:tables` script imports it.
import { readFileSync, writeFileSync } from 'node:fs';
import { durationSchema } from '@bifrost/core';

/** Start marker of the generated table in a README (anything may follow `options:start` inside the comment). */
export const OPTIONS_START = '<!-- options:start (generated from the config schema by `pnpm docs:tables`) -->';
/** End marker of the generated table. */
export const OPTIONS_END = '<!-- options:end -->';

/**
 * The zod v3 internals this generator reads. Typed structurally so the testkit needs no zod at
 * runtime and accepts schemas from any zod 3 copy.
 */
interface ZodNode {
  readonly _def: { readonly typeName?: string; readonly [key: string]: unknown };
  readonly description?: string;
}

/** One row of the option table. */
export interface OptionRow {
  key: string;
  type: string;
  /** The default as JSON, `required`, or empty for an optional field without one. */
  default: string;
  description: string;
}

/** The fields of a plugin config schema: a `z.object`, possibly wrapped in refinements or transforms. */
export function optionRows(schema: unknown): OptionRow[] {
  return Object.entries(objectShape(schema as ZodNode)).map(([key, field]) => {
    const { type, def, required } = inspect(field);
    return {
      key,
      type,
      default: def === undefined ? (required ? 'required' : '') : `\`${JSON.stringify(def)}\``,
      description: field.description ?? '',
    };
  });
}

/** The markdown option table (Option, Type, Default, Description) of a plugin config schema. */
export function optionsTable(schema: unknown): string {
  return rowsTable(optionRows(schema));
}

/** One table of {@link optionSections}: an object of a nested config and its fields. */
export interface OptionSection {
  /** Dotted path of the object: `gateway.api`, `gateway.sources.<name>`, `gateway.cloud.routing_rules[]`. */
  path: string;
  /** Description of the field holding the object (empty for the root). */
  description: string;
  rows: OptionRow[];
}

/**
 * The option tables of a nested config schema: one for the object at `path`, then, depth first, one
 * per field that is an object (`path.key`), a map of objects (`path.key.<name>`) or a list of
 * objects (`path.key[]`). Wrappers (optional, default, refinements) are looked through.
 */
export function optionSections(schema: unknown, path: string, description = ''): OptionSection[] {
  const root = unwrap(schema as ZodNode).t;
  const shape = objectShape(root);
  const sections: OptionSection[] = [{ path, description, rows: optionRows(root) }];
  for (const [key, field] of Object.entries(shape)) {
    const { t } = unwrap(field);
    const d = t._def;
    const child =
      d.typeName === 'ZodObject'
        ? { path: `${path}.${key}`, schema: t }
        : d.typeName === 'ZodRecord' && isObject(d.valueType as ZodNode)
          ? { path: `${path}.${key}.<name>`, schema: d.valueType as ZodNode }
          : d.typeName === 'ZodArray' && isObject(d.type as ZodNode)
            ? { path: `${path}.${key}[]`, schema: d.type as ZodNode }
            : undefined;
    if (child) sections.push(...optionSections(child.schema, child.path, field.description ?? ''));
  }
  return sections;
}

/** Markdown of {@link optionSections}: per section a `#### \`path\`` heading, its description and its table. */
export function optionSectionsMarkdown(schema: unknown, path: string): string {
  return optionSections(schema, path)
    .map((s) => `#### \`${s.path}\`\n\n${s.description ? `${s.description}\n\n` : ''}${rowsTable(s.rows)}`)
    .join('\n\n');
}

function rowsTable(rows: OptionRow[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = rows.map((r) => `| \`${r.key}\` | ${cell(r.type)} | ${r.default} | ${cell(r.description)} |`);
  return ['| Option | Type | Default | Description |', '| --- | --- | --- | --- |', ...lines].join('\n');
}

function isObject(t: ZodNode): boolean {
  return unwrap(t).t._def.typeName === 'ZodObject';
}

/**
 * `readme` with the text between its option markers replaced by {@link optionsTable}. Throws when
 * the README lacks the markers, naming them.
 */
export function withOptionsTable(readme: string, schema: unknown): string {
  const start = readme.indexOf('<!-- options:start');
  const startEnd = start < 0 ? -1 : readme.indexOf('-->', start);
  const end = readme.indexOf(OPTIONS_END, startEnd);
  if (start < 0 || startEnd < 0 || end < 0) {
    throw new Error(`README needs the markers ${OPTIONS_START} and ${OPTIONS_END} around its option table`);
  }
  return `${readme.slice(0, startEnd + 3)}\n${optionsTable(schema)}\n${readme.slice(end)}`;
}

/** Regenerates the option table of the README at `readmePath`; true when the file changed. */
export function writeReadmeOptionsTable(readmePath: string, schema: unknown): boolean {
  const text = readFileSync(readmePath, 'utf8');
  const updated = withOptionsTable(text, schema);
  if (updated === text) return false;
  writeFileSync(readmePath, updated);
  return true;
}

function objectShape(schema: ZodNode): Record<string, ZodNode> {
  let t = schema;
  for (;;) {
    const def = t._def;
    if (def.typeName === 'ZodObject') return (def.shape as () => Record<string, ZodNode>)();
    if (def.typeName === 'ZodEffects') t = def.schema as ZodNode;
    else if (def.typeName === 'ZodPipeline') t = def.in as ZodNode;
    else if (def.typeName === 'ZodBranded' || def.typeName === 'ZodReadonly')
      t = (def.type ?? def.innerType) as ZodNode;
    else
      throw new Error(`options table: the config schema must be a z.object (got ${def.typeName ?? 'an unknown type'})`);
  }
}

/** Unwraps optional/default/effects layers, collecting the default and whether the field is required. */
function inspect(field: ZodNode): { type: string; def: unknown; required: boolean } {
  const { t, def, required } = unwrap(field);
  return { type: typeName(t), def, required };
}

/** The type under optional/default/effects layers, with the default and whether the field is required. */
function unwrap(field: ZodNode): { t: ZodNode; def: unknown; required: boolean } {
  let t = field;
  let def: unknown;
  let required = true;
  for (;;) {
    if (t === (durationSchema as unknown)) break;
    const d = t._def;
    if (d.typeName === 'ZodDefault') {
      def = (d.defaultValue as () => unknown)();
      required = false;
      t = d.innerType as ZodNode;
    } else if (d.typeName === 'ZodOptional' || d.typeName === 'ZodNullable' || d.typeName === 'ZodCatch') {
      required = false;
      t = d.innerType as ZodNode;
    } else if (d.typeName === 'ZodEffects') t = d.schema as ZodNode;
    else if (d.typeName === 'ZodPipeline') t = d.in as ZodNode;
    else if (d.typeName === 'ZodBranded') t = d.type as ZodNode;
    else break;
  }
  return { t, def, required };
}

function typeName(t: ZodNode): string {
  if (t === (durationSchema as unknown)) return 'duration';
  const d = t._def;
  const code = (v: unknown) => `\`${String(v)}\``;
  switch (d.typeName) {
    case 'ZodString':
      return 'string';
    case 'ZodNumber':
      return (d.checks as Array<{ kind: string }>).some((c) => c.kind === 'int') ? 'integer' : 'number';
    case 'ZodBoolean':
      return 'boolean';
    case 'ZodLiteral':
      return code(d.value);
    case 'ZodEnum':
      return (d.values as unknown[]).map(code).join(' | ');
    case 'ZodNativeEnum':
      return Object.values(d.values as object)
        .map(code)
        .join(' | ');
    case 'ZodUnion':
      return (d.options as ZodNode[]).map((o) => inspect(o).type).join(' | ');
    case 'ZodArray':
      return `list of ${inspect(d.type as ZodNode).type}`;
    case 'ZodRecord':
      return 'map';
    case 'ZodObject':
      return 'object';
    case undefined:
    default:
      return (d.typeName ?? 'unknown').replace(/^Zod/, '').toLowerCase();
  }
}
