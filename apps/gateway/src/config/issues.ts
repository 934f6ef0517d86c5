import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { z } from '@bifrost/core';

/** One problem in a config file: where (dotted YAML path and 1-based line) and what. */
export interface ConfigIssue {
  /** e.g. `gateway.cloud.connectors.plant-a.timeout` */
  path: string;
  line?: number;
  message: string;
}

export type PathSegment = string | number;

/** Formats `['gateway', 'cloud', 'routing_rules', 0, 'name']` as `gateway.cloud.routing_rules[0].name`. */
export function formatPath(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || '(root)';
}

/** Maps YAML paths to line numbers of the parsed document, falling back to the nearest existing parent. */
export class LineLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  lineOf(path: readonly PathSegment[]): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const node = this.nodeAt(path.slice(0, n));
      if (node?.range) return this.lines.linePos(node.range[0]).line;
    }
    return undefined;
  }

  /** Line of the key `path[last]` itself (better than its value for unknown keys). */
  keyLineOf(path: readonly PathSegment[]): number | undefined {
    const parent = this.nodeAt(path.slice(0, -1));
    const key = path[path.length - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      const k = pair?.key as Node | undefined;
      if (k?.range) return this.lines.linePos(k.range[0]).line;
    }
    return this.lineOf(path);
  }

  private nodeAt(path: readonly PathSegment[]): Node | undefined {
    let node: unknown = this.doc.contents;
    for (const seg of path) {
      if (isMap(node)) node = node.get(seg, true);
      else if (isSeq(node) && typeof seg === 'number') node = node.get(seg, true);
      else return undefined;
    }
    return node as Node | undefined;
  }
}

/** Turns zod issues (paths relative to `base`) into config issues with lines; unknown keys get one issue each. */
export function zodIssuesToConfigIssues(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PathSegment[],
  locator: LineLocator | undefined,
  mapPath: (p: PathSegment[]) => PathSegment[] = (p) => p,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const rel = issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const full = [...base, ...mapPath([...rel, key])];
        out.push({ path: formatPath(full), line: locator?.keyLineOf(full), message: `unknown option "${key}"` });
      }
      continue;
    }
    const full = [...base, ...mapPath(rel)];
    out.push({ path: formatPath(full), line: locator?.lineOf(full), message: messageOf(issue) });
  }
  return out;
}

/**
 * The issue's message; a missing field reads `Required` as it did under zod 3, rather than zod 4's
 * `Invalid input: expected string, received undefined`.
 */
function messageOf(issue: z.core.$ZodIssue): string {
  return issue.code === 'invalid_type' && / received undefined$/.test(issue.message) ? 'Required' : issue.message;
}

/** One line per issue: `file:12 gateway.cloud.connectors.a.timeout: must be a duration like 5s`. */
export function formatIssues(issues: readonly ConfigIssue[], file?: string): string {
  return issues
    .map(
      (i) =>
        `${file ?? ''}${i.line !== undefined ? `${file ? ':' : 'line '}${i.line}` : ''}${file || i.line !== undefined ? ' ' : ''}${i.path}: ${i.message}`,
    )
    .join('\n');
}

/** Thrown when a config file has problems; `issues` lists every one. */
export class ConfigFileError extends Error {
  readonly code = 'BIFROST_ERR_CONFIG_FILE';
  constructor(
    readonly issues: ConfigIssue[],
    readonly file?: string,
  ) {
    super(
      `[bifrost] invalid config${file ? ` ${file}` : ''} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${formatIssues(issues, file)}`,
    );
    this.name = 'ConfigFileError';
  }
}
