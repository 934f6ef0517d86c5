import { z } from 'zod';

/**
 * Metadata key marking a secret field. It lives in zod's global registry (shared by every zod 4
 * copy in the process), so it survives `.optional()`, `.default()` and `.describe()` (zod copies
 * metadata to derived schemas) and `z.toJSONSchema` emits it, beside the standard `writeOnly: true`.
 */
export const SECRET_META_KEY = 'x-secret';

/**
 * Marks a config field as a secret (password, token, ...): the gateway redacts its value in logs,
 * errors and API responses, and the generated docs and JSON Schema flag it. Returns a new schema.
 *
 * ```ts
 * password: secret(z.string()).optional().describe('Password for broker authentication.'),
 * ```
 */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ [SECRET_META_KEY]: true, writeOnly: true });
}

/** Structural view of a zod 4 schema: enough to walk it without depending on one zod copy. */
type Node = z.core.$ZodType;
type Def = Record<string, unknown> & { type?: string };

function defOf(schema: Node): Def {
  return (schema as unknown as { _zod?: { def?: Def } })._zod?.def ?? {};
}

function hasSecretMeta(schema: Node): boolean {
  if (!(schema as { _zod?: unknown })._zod) return false;
  return z.globalRegistry.get(schema)?.[SECRET_META_KEY] === true;
}

/** The schema under one wrapper (optional, nullable, default, prefault, catch, readonly, pipe input, lazy), or undefined. */
function innerOf(schema: Node): Node | undefined {
  const def = defOf(schema);
  switch (def.type ?? '') {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
    case 'promise':
      return def.innerType as Node;
    case 'pipe':
      // A transform is a pipe whose input side is what the user writes.
      return defOf(def.in as Node).type === 'transform' ? (def.out as Node) : (def.in as Node);
    case 'lazy':
      return (def.getter as () => Node)();
    default:
      return undefined;
  }
}

/** True when `schema` was marked with {@link secret}, directly or under optional/default/nullable/pipe wrappers. */
export function isSecretSchema(schema: unknown): boolean {
  let s = schema as Node | undefined;
  for (let depth = 0; s && depth < 32; depth++) {
    if (hasSecretMeta(s)) return true;
    s = innerOf(s);
  }
  return false;
}

/**
 * Dotted paths of the secret fields of an object schema, e.g. `['password', 'sasl.password']`.
 * Looks through wrappers (optional, default, nullable, pipes, lazy), into nested objects, every
 * option of a union and intersection; a map's value is `*` (`users.*.token`), a list's item `[]`.
 */
export function secretPaths(schema: unknown): string[] {
  const out = new Set<string>();
  walk(schema as Node, '', out, 0);
  return [...out];
}

function walk(schema: Node | undefined, prefix: string, out: Set<string>, depth: number): void {
  if (!schema || depth > 64) return;
  if (prefix && isSecretSchema(schema)) {
    out.add(prefix);
    return;
  }
  const inner = innerOf(schema);
  if (inner) return walk(inner, prefix, out, depth + 1);
  const def = defOf(schema);
  const at = (key: string) => (prefix ? `${prefix}.${key}` : key);
  switch (def.type ?? '') {
    case 'object':
      for (const [key, field] of Object.entries(def.shape as Record<string, Node>))
        walk(field, at(key), out, depth + 1);
      if (def.catchall) walk(def.catchall as Node, at('*'), out, depth + 1);
      return;
    case 'union':
      for (const option of def.options as Node[]) walk(option, prefix, out, depth + 1);
      return;
    case 'intersection':
      walk(def.left as Node, prefix, out, depth + 1);
      walk(def.right as Node, prefix, out, depth + 1);
      return;
    case 'record':
      walk(def.valueType as Node, at('*'), out, depth + 1);
      return;
    case 'array':
      walk(def.element as Node, `${prefix}[]`, out, depth + 1);
      return;
    default:
      return;
  }
}
