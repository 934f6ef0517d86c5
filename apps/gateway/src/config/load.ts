import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { configFileSchema, type GatewayConfig } from './schema.js';
import { LineLocator, formatPath, zodIssuesToConfigIssues, type ConfigIssue, type PathSegment } from './issues.js';
import { SecretRegistry, isSecretKey } from './secrets.js';

/** A config file parsed and checked against the gateway schema (plugin schemas are checked later, see `resolvePlugins`). */
export interface LoadedConfig {
  /** Absolute path of the file, or undefined for inline text. */
  file?: string;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
  /** The validated config; undefined when the gateway schema found problems. */
  config?: GatewayConfig;
  /** The raw object after `${ENV}` and `*_file` substitution (what plugin schemas see). */
  raw: unknown;
  issues: ConfigIssue[];
  locator: LineLocator;
  /** Every secret value seen, for redaction in logs, errors and API responses. */
  secrets: SecretRegistry;
}

const ENV_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
/** `*_file` keys that name TLS files, loaded by the TLS helper rather than inlined. */
const TLS_FILE_KEYS = new Set(['cert_file', 'key_file', 'ca_file']);

/** Reads and checks a config file. Never throws for content problems: they are in `issues`. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const lines = new LineCounter();
    const doc = parseDocument('', { lineCounter: lines });
    return {
      file: abs,
      baseDir: dirname(abs),
      raw: undefined,
      locator: new LineLocator(doc, lines),
      secrets: new SecretRegistry(),
      issues: [{ path: '(file)', message: `cannot read config file ${abs}: ${(err as Error).message}` }],
    };
  }
  return parseConfigText(text, { file: abs, baseDir: dirname(abs), env });
}

/** Parses config YAML text: syntax, `${ENV}` substitution, `*_file` secrets, then the gateway schema. */
export function parseConfigText(
  text: string,
  opts: { file?: string; baseDir?: string; env?: NodeJS.ProcessEnv } = {},
): LoadedConfig {
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locator = new LineLocator(doc, lines);
  const secrets = new SecretRegistry();
  const issues: ConfigIssue[] = [];
  const base = { file: opts.file, baseDir, locator, secrets };

  for (const e of doc.errors) {
    const [message = ''] = e.message.split('\n', 1);
    issues.push({ path: '(yaml)', line: lines.linePos(e.pos[0]).line, message });
  }
  if (issues.length) return { ...base, raw: undefined, issues };

  const envIssues = substituteEnv(doc, env, locator);
  issues.push(...envIssues);
  const raw = doc.toJS() as unknown;
  issues.push(...inlineSecretFiles(raw, [], baseDir, locator, secrets));
  collectSecretValues(raw, secrets);

  const parsed = configFileSchema.safeParse(raw ?? {});
  // A value emptied by a missing ${VAR} is reported once, as the missing variable.
  const emptied = new Set(envIssues.map((i) => i.path));
  if (!parsed.success)
    issues.push(...zodIssuesToConfigIssues(parsed.error.issues, [], locator).filter((i) => !emptied.has(i.path)));
  return { ...base, raw, issues, config: parsed.success && !issues.length ? parsed.data.gateway : undefined };
}

/** Replaces `${VAR}` and `${VAR:-default}` in string scalars, in place; an unset variable without default is an issue. */
function substituteEnv(doc: Document, env: NodeJS.ProcessEnv, locator: LineLocator): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const yamlPath = pathOf(path, node);
      node.value = node.value.replace(ENV_RE, (_m, name: string, fallback: string | undefined) => {
        const v = env[name];
        if (v !== undefined) return v;
        if (fallback !== undefined) return fallback;
        issues.push({
          path: formatPath(yamlPath),
          line: locator.lineOf(yamlPath),
          message: `environment variable ${name} is not set (use \${${name}:-default} for a default)`,
        });
        return '';
      });
    },
  });
  return issues;
}

/** The YAML path of a node from the ancestor list `visit` gives. */
function pathOf(ancestors: readonly unknown[], node: unknown): PathSegment[] {
  const out: PathSegment[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i] as { items?: unknown[]; key?: unknown };
    const child = chain[i + 1];
    if (Array.isArray(parent.items)) {
      const idx = parent.items.indexOf(child);
      // In a map the child is a Pair (its key is the segment); in a sequence it is the item.
      if (
        child &&
        typeof child === 'object' &&
        'key' in child &&
        'value' in child &&
        isScalar((child as { key: unknown }).key)
      ) {
        out.push(String((child as { key: { value: unknown } }).key.value));
      } else if (idx >= 0) out.push(idx);
    }
  }
  return out;
}

/**
 * Replaces every `<name>_file` key (except the TLS `cert_file`/`key_file`/`ca_file`) by `<name>`
 * holding the file's content without its trailing newline, e.g. `password_file` -> `password`.
 */
function inlineSecretFiles(
  node: unknown,
  path: PathSegment[],
  baseDir: string,
  locator: LineLocator,
  secrets: SecretRegistry,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (Array.isArray(node)) {
    node.forEach((item, i) => issues.push(...inlineSecretFiles(item, [...path, i], baseDir, locator, secrets)));
    return issues;
  }
  if (node === null || typeof node !== 'object') return issues;
  const obj = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(obj)) {
    const here = [...path, key];
    if (key.endsWith('_file') && !TLS_FILE_KEYS.has(key) && typeof value === 'string') {
      const target = key.slice(0, -'_file'.length);
      try {
        const content = readFileSync(resolve(baseDir, value), 'utf8').replace(/\r?\n$/, '');
        if (target in obj) {
          issues.push({
            path: formatPath(here),
            line: locator.lineOf(here),
            message: `set either ${target} or ${key}, not both`,
          });
        } else {
          delete obj[key];
          obj[target] = content;
          secrets.add(content);
        }
      } catch (err) {
        issues.push({
          path: formatPath(here),
          line: locator.lineOf(here),
          message: `cannot read ${key} ${resolve(baseDir, value)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        });
      }
    } else {
      issues.push(...inlineSecretFiles(value, here, baseDir, locator, secrets));
    }
  }
  return issues;
}

/** Registers string values under secret-looking keys (password, token, ...) for redaction. */
function collectSecretValues(node: unknown, secrets: SecretRegistry): void {
  if (Array.isArray(node)) return node.forEach((n) => collectSecretValues(n, secrets));
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (isSecretKey(key) && typeof value === 'string') secrets.add(value);
    else collectSecretValues(value, secrets);
  }
}
