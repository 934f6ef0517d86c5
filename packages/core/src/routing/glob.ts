/** A compiled string test: exact, prefix, suffix or full glob. */
export type StringMatcher = (s: string) => boolean;

/**
 * Compiles a glob where `*` matches any run of characters (also none) and `?` exactly one; `\*`,
 * `\?` and `\\` stand for the literal character. Common shapes (no wildcard, `abc*`, `*abc`) compile
 * to plain string comparisons, the rest to one anchored regular expression.
 */
export function compileGlob(pattern: string): StringMatcher {
  const parts: Array<{ literal: string } | { wildcard: '*' | '?' }> = [];
  let literal = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      literal += pattern[++i];
    } else if (c === '*' || c === '?') {
      if (literal) parts.push({ literal });
      literal = '';
      parts.push({ wildcard: c });
    } else {
      literal += c;
    }
  }
  if (literal) parts.push({ literal });

  if (parts.every((p) => 'literal' in p)) {
    const exact = parts.map((p) => p.literal).join('');
    return (s) => s === exact;
  }
  const first = parts[0];
  const last = parts.at(-1);
  // parts is not empty here: an empty pattern has only literals and returned above.
  if (!first || !last) throw new Error(`glob ${JSON.stringify(pattern)} has no parts`);
  if (parts.length === 1 && 'wildcard' in first && first.wildcard === '*') return () => true;
  if (parts.length === 2 && 'literal' in first && 'wildcard' in last && last.wildcard === '*') {
    const prefix = first.literal;
    return (s) => s.startsWith(prefix);
  }
  if (parts.length === 2 && 'wildcard' in first && first.wildcard === '*' && 'literal' in last) {
    const suffix = last.literal;
    return (s) => s.endsWith(suffix);
  }
  const source = parts
    .map((p) => ('literal' in p ? escapeRegExp(p.literal) : p.wildcard === '*' ? '[\\s\\S]*' : '[\\s\\S]'))
    .join('');
  const re = new RegExp(`^${source}$`, 'u');
  return (s) => re.test(s);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
