import type { DataPoint } from '../data-point.js';
import { compileGlob } from './glob.js';

/** A compiled routing condition: a plain function of the point, built once per rule. */
export type PointPredicate = (point: DataPoint) => boolean;

/**
 * A routing condition that does not parse. `position` is the 1-based character position in the
 * condition where the problem was found (`condition.length + 1` for "unexpected end").
 */
export class ConditionSyntaxError extends Error {
  readonly code = 'BIFROST_ERR_ROUTING_CONDITION';
  constructor(
    readonly reason: string,
    readonly condition: string,
    readonly position: number,
  ) {
    super(`${reason} at position ${position} in "${condition}"`);
    this.name = 'ConditionSyntaxError';
  }
}

/**
 * Fields a condition can test; `tags.<key>` reads one entry of the point's tags, `value` the value
 * as text (numbers, strings and booleans; structured values never match).
 */
export const CONDITION_FIELDS = ['device_id', 'tag_name', 'quality', 'unit', 'value', 'tags.<key>'] as const;

type FieldReader = (p: DataPoint) => string | undefined;

const FIELD_READERS: Record<string, FieldReader> = {
  device_id: (p) => p.deviceId,
  tag_name: (p) => p.tagName,
  quality: (p) => p.quality,
  unit: (p) => p.unit,
  value: (p) => (typeof p.value === 'object' ? undefined : String(p.value)),
};
const FIELD_ALIASES: Record<string, string> = { deviceId: 'device_id', tagName: 'tag_name' };

type Token =
  | { kind: 'word'; text: string; pos: number }
  | { kind: 'string'; text: string; pos: number }
  | { kind: 'op'; text: '=' | '!='; pos: number }
  | { kind: 'lparen' | 'rparen'; pos: number }
  | { kind: 'end'; pos: number };

const WORD_STOP = new Set([' ', '\t', '\n', '\r', '(', ')', '=', '!', '"', "'", '<', '>']);

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    const pos = i + 1;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '(') {
      tokens.push({ kind: 'lparen', pos });
      i++;
      continue;
    }
    if (c === ')') {
      tokens.push({ kind: 'rparen', pos });
      i++;
      continue;
    }
    if (c === '=') {
      tokens.push({ kind: 'op', text: '=', pos });
      i += src[i + 1] === '=' ? 2 : 1;
      continue;
    }
    if (c === '!') {
      if (src[i + 1] !== '=')
        throw new ConditionSyntaxError('"!" must be followed by "=" (use != for "not equal")', src, pos);
      tokens.push({ kind: 'op', text: '!=', pos });
      i += 2;
      continue;
    }
    if (c === '<' || c === '>') {
      throw new ConditionSyntaxError(
        `operator "${c}" is not supported (use = or !=, with * and ? as wildcards)`,
        src,
        pos,
      );
    }
    if (c === '"' || c === "'") {
      let text = '';
      let j = i + 1;
      for (; j < src.length && src[j] !== c; j++) {
        // Keep backslashes: the glob compiler reads `\*` as a literal star.
        if (src[j] === '\\' && j + 1 < src.length) text += src[j++];
        text += src[j];
      }
      if (j >= src.length) throw new ConditionSyntaxError(`unterminated quoted value (missing closing ${c})`, src, pos);
      tokens.push({ kind: 'string', text, pos });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < src.length && !WORD_STOP.has(src.charAt(j))) j++;
    tokens.push({ kind: 'word', text: src.slice(i, j), pos });
    i = j;
  }
  tokens.push({ kind: 'end', pos: src.length + 1 });
  return tokens;
}

const isKeyword = (t: Token, kw: 'and' | 'or' | 'not'): boolean => t.kind === 'word' && t.text.toLowerCase() === kw;

function describe(t: Token): string {
  switch (t.kind) {
    case 'end':
      return 'end of condition';
    case 'lparen':
      return '"("';
    case 'rparen':
      return '")"';
    case 'op':
    case 'string':
    case 'word':
      return `"${t.text}"`;
  }
}

/**
 * Recursive-descent parser producing closures directly (no AST kept):
 * `or := and ('or' and)*`, `and := unary ('and' unary)*`, `unary := 'not' unary | '(' or ')' | field op value`.
 */
class Parser {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly tokens: Token[],
  ) {}

  parse(): PointPredicate {
    if (this.peek().kind === 'end') throw this.fail('condition is empty', this.peek());
    const pred = this.parseOr();
    const rest = this.peek();
    if (rest.kind !== 'end') {
      throw this.fail(
        rest.kind === 'rparen' ? 'unmatched ")"' : `expected "and", "or" or end of condition, found ${describe(rest)}`,
        rest,
      );
    }
    return pred;
  }

  private peek(): Token {
    const t = this.tokens[this.i];
    if (!t) throw new Error(`condition parser read past the end of ${JSON.stringify(this.src)}`);
    return t;
  }
  private next(): Token {
    const t = this.peek();
    this.i++;
    return t;
  }
  private fail(reason: string, at: Token): ConditionSyntaxError {
    return new ConditionSyntaxError(reason, this.src, at.pos);
  }

  private parseOr(): PointPredicate {
    const first = this.parseAnd();
    const terms = [first];
    while (isKeyword(this.peek(), 'or')) {
      this.next();
      terms.push(this.parseAnd());
    }
    if (terms.length === 1) return first;
    if (terms.length === 2) {
      const [a, b] = terms as [PointPredicate, PointPredicate];
      return (p) => a(p) || b(p);
    }
    return (p) => terms.some((t) => t(p));
  }

  private parseAnd(): PointPredicate {
    const first = this.parseUnary();
    const terms = [first];
    while (isKeyword(this.peek(), 'and')) {
      this.next();
      terms.push(this.parseUnary());
    }
    if (terms.length === 1) return first;
    if (terms.length === 2) {
      const [a, b] = terms as [PointPredicate, PointPredicate];
      return (p) => a(p) && b(p);
    }
    return (p) => terms.every((t) => t(p));
  }

  private parseUnary(): PointPredicate {
    const t = this.peek();
    if (isKeyword(t, 'not')) {
      this.next();
      const inner = this.parseUnary();
      return (p) => !inner(p);
    }
    if (t.kind === 'lparen') {
      this.next();
      if (this.peek().kind === 'rparen') throw this.fail('empty parentheses', this.peek());
      const inner = this.parseOr();
      const close = this.next();
      if (close.kind !== 'rparen')
        throw this.fail(`expected ")" to close "(" at position ${t.pos}, found ${describe(close)}`, close);
      return inner;
    }
    return this.parseComparison();
  }

  private parseComparison(): PointPredicate {
    const fieldTok = this.next();
    if (fieldTok.kind !== 'word' || isKeyword(fieldTok, 'and') || isKeyword(fieldTok, 'or')) {
      throw this.fail(`expected a field (${CONDITION_FIELDS.join(', ')}), found ${describe(fieldTok)}`, fieldTok);
    }
    const read = this.fieldReader(fieldTok);
    const op = this.next();
    if (op.kind !== 'op') throw this.fail(`expected "=" or "!=" after "${fieldTok.text}", found ${describe(op)}`, op);
    const valueTok = this.next();
    if (valueTok.kind !== 'word' && valueTok.kind !== 'string') {
      throw this.fail(`expected a value after "${fieldTok.text}${op.text}", found ${describe(valueTok)}`, valueTok);
    }
    const matches = compileGlob(valueTok.text);
    if (op.text === '=')
      return (p) => {
        const v = read(p);
        return v !== undefined && matches(v);
      };
    return (p) => {
      const v = read(p);
      return v === undefined || !matches(v);
    };
  }

  private fieldReader(tok: Extract<Token, { kind: 'word' }>): FieldReader {
    const name = FIELD_ALIASES[tok.text] ?? tok.text;
    const reader = FIELD_READERS[name];
    if (reader) return reader;
    if (name.startsWith('tags.') && name.length > 5) {
      const key = name.slice(5);
      return (p) => p.tags?.[key];
    }
    throw this.fail(`unknown field "${tok.text}" (known: ${CONDITION_FIELDS.join(', ')})`, tok);
  }
}

/**
 * Compiles a routing condition once into a predicate. Grammar: comparisons `field=value` and
 * `field!=value` (`==` also accepted), where field is `device_id`, `tag_name`, `quality`, `unit`,
 * `value` or `tags.<key>` and value is a bare word or a quoted string in which `*` and `?` are wildcards
 * (`\*` a literal star); combined with `and`, `or` (and binds tighter), `not` and parentheses.
 * Keywords are case-insensitive, values case-sensitive. `!=` is true when the field is absent.
 * Throws {@link ConditionSyntaxError} with the position of the problem.
 */
export function compileCondition(condition: string): PointPredicate {
  return new Parser(condition, tokenize(condition)).parse();
}
