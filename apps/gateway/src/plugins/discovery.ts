import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Role of a plugin package, from its `package.json` `bifrost.role`. */
export type PluginRole = 'connector' | 'source';

/** A package that declares `"bifrost": { "role", "type", "api" }` in its package.json. */
export interface PluginPackage {
  name: string;
  version: string;
  role: PluginRole;
  type: string;
  /** Semver range of the plugin API the package works with, e.g. `^1`. */
  api: string;
  /** Absolute package directory. */
  dir: string;
  /** Where it was found: `node_modules`, `workspace` or `path` (explicit `plugin:` path). */
  origin: 'node_modules' | 'workspace' | 'path';
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  bifrost?: { role?: unknown; type?: unknown; api?: unknown };
}

/** Thrown for a directory that is not a usable plugin package. */
export class PluginPackageError extends Error {
  readonly code = 'BIFROST_ERR_PLUGIN_PACKAGE';
  constructor(message: string) {
    super(`[bifrost] ${message}`);
    this.name = 'PluginPackageError';
  }
}

function readPackageJson(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** Reads a package directory; undefined when it has no valid `bifrost` block. */
export function readPluginPackage(dir: string, origin: PluginPackage['origin']): PluginPackage | undefined {
  const pkg = readPackageJson(dir);
  const b = pkg?.bifrost;
  if (!pkg?.name || !b || (b.role !== 'connector' && b.role !== 'source') || typeof b.type !== 'string')
    return undefined;
  return {
    name: pkg.name,
    version: pkg.version ?? '0.0.0',
    role: b.role,
    type: b.type,
    api: typeof b.api === 'string' ? b.api : '*',
    dir,
    origin,
  };
}

/** The ESM entry file of a package: `exports["."]` (import/default condition), then `main`, then `index.js`. */
export function packageEntry(dir: string): string {
  const pkg = readPackageJson(dir) ?? {};
  const pick = (e: unknown): string | undefined => {
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object') {
      const o = e as Record<string, unknown>;
      if ('.' in o) return pick(o['.']);
      return pick(o.import) ?? pick(o.default) ?? pick(o.node);
    }
    return undefined;
  };
  const rel = pick(pkg.exports) ?? pkg.main ?? 'index.js';
  return resolve(dir, rel);
}

/** `node_modules` directories from `start` up to the filesystem root. */
function nodeModulesChain(start: string): string[] {
  const out: string[] = [];
  let dir = resolve(start);
  for (;;) {
    const nm = join(dir, 'node_modules');
    if (existsSync(nm)) out.push(nm);
    const up = dirname(dir);
    if (up === dir) return out;
    dir = up;
  }
}

function listPackageDirs(nodeModules: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(nodeModules);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.startsWith('.')) continue;
    const p = join(nodeModules, e);
    if (e.startsWith('@')) {
      try {
        for (const s of readdirSync(p)) out.push(join(p, s));
      } catch {
        /* unreadable scope */
      }
    } else out.push(p);
  }
  return out;
}

/** The pnpm workspace root above `start` (the directory holding pnpm-workspace.yaml), if any. */
function workspaceRoot(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function workspacePackageDirs(root: string): string[] {
  const out: string[] = [];
  for (const group of ['packages', 'apps', 'plugins']) {
    const g = join(root, group);
    if (!existsSync(g)) continue;
    for (const e of readdirSync(g)) {
      const p = join(g, e);
      if (statSync(p).isDirectory()) out.push(p);
    }
  }
  return out;
}

/** The directory of this gateway package (plugins installed beside the gateway are found from here). */
export const GATEWAY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Finds installed plugins: packages declaring a `bifrost` block in the `node_modules` directories
 * resolvable from the gateway and from each of `searchFrom` (typically the config file's directory),
 * and in the pnpm workspace. The first copy of a package name wins, searched directories first.
 */
export function discoverPlugins(searchFrom: readonly string[] = []): PluginPackage[] {
  const byName = new Map<string, PluginPackage>();
  const add = (p: PluginPackage | undefined) => {
    if (p && !byName.has(p.name)) byName.set(p.name, p);
  };
  const starts = [...searchFrom, GATEWAY_DIR];
  for (const start of starts) {
    for (const nm of nodeModulesChain(start))
      for (const dir of listPackageDirs(nm)) add(readPluginPackage(dir, 'node_modules'));
  }
  for (const start of starts) {
    const root = workspaceRoot(start);
    if (root) for (const dir of workspacePackageDirs(root)) add(readPluginPackage(dir, 'workspace'));
  }
  return [...byName.values()].sort(
    (a, b) => byCodeUnits(a.role, b.role) || byCodeUnits(a.type, b.type) || byCodeUnits(a.name, b.name),
  );
}

/**
 * Locale-independent order. `localeCompare` would bring up ICU collation, ~3 MB of RSS for the
 * process lifetime, to sort a handful of ASCII package names.
 */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Package names a config `type:` resolves to, in order of preference. */
export function candidateNames(role: PluginRole, type: string): string[] {
  return [`@bifrost/${role}-${type}`, `bifrost-${role}-${type}`, `@<scope>/bifrost-${role}-${type}`];
}

/** The plugins this project publishes, by role: the only `@bifrost/...` names worth suggesting. */
export const OFFICIAL_TYPES: Readonly<Record<PluginRole, readonly string[]>> = {
  connector: ['amqp', 'aws-iot', 'azure-iot', 'gcp-pubsub', 'http', 'influxdb', 'kafka', 'mqtt', 'timescale'],
  source: ['simulator'],
};

/**
 * What to install for a `type:` nobody provides: the official package when there is one, else the
 * third-party naming rule (never an `@bifrost/...` package that does not exist).
 */
export function missingPluginHint(role: PluginRole, type: string): string {
  const [official, thirdParty, scoped] = candidateNames(role, type);
  if (OFFICIAL_TYPES[role].includes(type)) return `install it: npm i ${official}`;
  return (
    `there is no official ${role} of that type (official: ${OFFICIAL_TYPES[role].join(', ')}); ` +
    `a third-party one is published as ${thirdParty} or ${scoped}: install it, or name one with plugin: <package or path>`
  );
}

function nameMatches(name: string, role: PluginRole, type: string): number {
  if (name === `@bifrost/${role}-${type}`) return 0;
  if (name === `bifrost-${role}-${type}`) return 1;
  if (/^@[^/]+\//.test(name) && name.endsWith(`/bifrost-${role}-${type}`)) return 2;
  return 3; // declares the type under another name
}

/**
 * Picks the plugin for `type:`: among found packages of that role declaring that type, the
 * official `@bifrost/<role>-<type>` first, then `bifrost-<role>-<type>`, then `@scope/bifrost-<role>-<type>`,
 * then any other.
 */
export function findByType(found: readonly PluginPackage[], role: PluginRole, type: string): PluginPackage | undefined {
  return found
    .filter((p) => p.role === role && p.type === type)
    .sort((a, b) => nameMatches(a.name, role, type) - nameMatches(b.name, role, type))[0];
}

/**
 * Resolves an explicit `plugin:` value: a path (starting with `.` or `/`, relative to `baseDir`)
 * or a package name looked up among the found plugins and the `node_modules` above `baseDir`.
 */
export function findExplicit(found: readonly PluginPackage[], spec: string, baseDir: string): PluginPackage {
  if (spec.startsWith('.') || isAbsolute(spec)) {
    const dir = resolve(baseDir, spec);
    if (!existsSync(join(dir, 'package.json'))) throw new PluginPackageError(`plugin path ${dir} has no package.json`);
    const p = readPluginPackage(dir, 'path');
    if (!p)
      throw new PluginPackageError(
        `plugin at ${dir} does not declare "bifrost": { "role", "type", "api" } in its package.json`,
      );
    return p;
  }
  const hit = found.find((p) => p.name === spec);
  if (hit) return hit;
  for (const nm of nodeModulesChain(baseDir)) {
    const dir = join(nm, spec);
    if (existsSync(join(dir, 'package.json'))) {
      const p = readPluginPackage(dir, 'node_modules');
      if (!p)
        throw new PluginPackageError(
          `package ${spec} (${dir}) is not a bifrost plugin: its package.json has no "bifrost": { "role", "type", "api" } block`,
        );
      return p;
    }
  }
  throw new PluginPackageError(`plugin package ${spec} is not installed; install it with: npm install ${spec}`);
}
