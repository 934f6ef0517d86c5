// `@bifrost/connector-testkit/docs`: a plugin's README option table, generated from its zod config
// schema (the single source of truth). No vitest here: the root `pnpm docs:tables` script imports it.
import { readFileSync, writeFileSync } from 'node:fs';
import { durationSchema, z } from '@bifrost/core';
import { isSecretSchema } from '@bifrost/core/host';

/** Start marker of the generated table in a README (anything may follow `options:start` inside the comment). */
export const OPTIONS_START = '<!-- options:start (generated from the config schema by `pnpm docs:tables`) -->';
/** End marker of the generated table. */
export const OPTIONS_END = '<!-- options:end -->';

/**
 * The zod 4 internals this generator reads (`_zod.def`). Typed structurally so it
 * accepts schemas from any zod 4 copy; descriptions, examples and the secret mark come from zod's
 * global metadata registry, which every zod 4 copy shares.
 */
interface ZodNode {
  readonly _zod: {
    readonly def: { readonly type?: string; readonly [key: string]: unknown };
  };
}

function defOf(t: ZodNode): ZodNode['_zod']['def'] {
  return t._zod.def;
}

/** `string` -> `ZodString`, for messages naming a schema type. */
function zodName(type: string | undefined): string {
  return type ? `Zod${type.charAt(0).toUpperCase()}${type.slice(1)}` : 'an unknown type';
}

/** Description of a field (set with `.describe()` or `.meta({ description })` on any wrapper layer). */
function descriptionOf(field: ZodNode): string {
  return metaOf(field)?.description ?? '';
}

/** `examples` metadata of a field, from its outermost layer that has some. */
function examplesOf(field: ZodNode): unknown[] {
  let t: ZodNode | undefined = field;
  for (let i = 0; t && i < 32; i++) {
    const ex = metaOf(t)?.examples;
    if (Array.isArray(ex) && ex.length) return ex;
    if (ex && typeof ex === 'object') return Object.values(ex as Record<string, unknown>);
    t = (defOf(t).innerType ?? defOf(t).in) as ZodNode | undefined;
  }
  return [];
}

function metaOf(t: ZodNode): z.core.GlobalMeta | undefined {
  return z.globalRegistry.get(t as unknown as z.core.$ZodType);
}

/** One row of the option table. */
export interface OptionRow {
  key: string;
  /** The type; a field marked with `secret()` reads e.g. `string (secret)`. */
  type: string;
  /** The default as JSON, `required`, or empty for an optional field without one. */
  default: string;
  /** The field's description, then its `examples` metadata if any (`Examples: ...`). */
  description: string;
}

/** The fields of a plugin config schema: a `z.object`, possibly wrapped in refinements or transforms. */
export function optionRows(schema: unknown): OptionRow[] {
  return Object.entries(objectShape(schema as ZodNode)).map(([key, field]) => {
    const { type, def, required } = inspect(field);
    const examples = examplesOf(field);
    const description = descriptionOf(field);
    return {
      key,
      type: isSecretSchema(field) ? `${type} (secret)` : type,
      default: def === undefined ? (required ? 'required' : '') : `\`${JSON.stringify(def)}\``,
      description: examples.length
        ? `${description}${description ? ' ' : ''}Examples: ${examples.map((e) => `\`${JSON.stringify(e)}\``).join(', ')}.`
        : description,
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
    const d = defOf(t);
    const child =
      d.type === 'object'
        ? { path: `${path}.${key}`, schema: t }
        : d.type === 'record' && isObject(d.valueType as ZodNode)
          ? { path: `${path}.${key}.<name>`, schema: d.valueType as ZodNode }
          : d.type === 'array' && isObject(d.element as ZodNode)
            ? { path: `${path}.${key}[]`, schema: d.element as ZodNode }
            : undefined;
    if (child) sections.push(...optionSections(child.schema, child.path, descriptionOf(field)));
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
  return defOf(unwrap(t).t).type === 'object';
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
    const def = defOf(t);
    if (def.type === 'object') return def.shape as Record<string, ZodNode>;
    // Refinements are checks on the object itself in zod 4; transforms are pipes.
    if (def.type === 'pipe') t = def.in as ZodNode;
    else if (def.type === 'readonly') t = def.innerType as ZodNode;
    else throw new Error(`options table: the config schema must be a z.object (got ${zodName(def.type)})`);
  }
}

/** Unwraps optional/default/effects layers, collecting the default and whether the field is required. */
function inspect(field: ZodNode): { type: string; def: unknown; required: boolean } {
  const { t, def, required } = unwrap(field);
  return { type: typeName(t), def, required };
}

/**
 * The type under optional/default/prefault/pipe layers, with the default and whether the field is
 * required. A `.prefault()` value is the default as users write it (`"30s"`), as a zod 3 default was.
 */
function unwrap(field: ZodNode): { t: ZodNode; def: unknown; required: boolean } {
  let t = field;
  let def: unknown;
  let required = true;
  for (;;) {
    if (t === (durationSchema as unknown)) break;
    const d = defOf(t);
    if (d.type === 'default' || d.type === 'prefault') {
      if (def === undefined) def = d.defaultValue;
      required = false;
      t = d.innerType as ZodNode;
    } else if (d.type === 'optional' || d.type === 'nullable' || d.type === 'catch') {
      required = false;
      t = d.innerType as ZodNode;
    } else if (d.type === 'readonly' || d.type === 'nonoptional') t = d.innerType as ZodNode;
    else if (d.type === 'pipe') t = d.in as ZodNode;
    else break;
  }
  return { t, def, required };
}

function typeName(t: ZodNode): string {
  if (t === (durationSchema as unknown)) return 'duration';
  const d = defOf(t);
  const code = (v: unknown) => `\`${String(v)}\``;
  switch (d.type ?? '') {
    case 'string':
      return 'string';
    case 'number':
      return ((d.checks ?? []) as ZodNode[]).some((c) => {
        const format = defOf(c).format;
        return typeof format === 'string' && format.includes('int');
      })
        ? 'integer'
        : 'number';
    case 'int':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'literal':
      return (d.values as unknown[]).map(code).join(' | ');
    case 'enum':
      return Object.values(d.entries as object)
        .map(code)
        .join(' | ');
    case 'union':
      return (d.options as ZodNode[]).map((o) => inspect(o).type).join(' | ');
    case 'array':
      return `list of ${inspect(d.element as ZodNode).type}`;
    case 'record':
      return 'map';
    case 'object':
      return 'object';
    case undefined:
    default:
      return d.type ?? 'unknown';
  }
}
