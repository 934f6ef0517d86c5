const SECRET_KEY_RE =
  /(pass(word|phrase)?|token|secret|api_?key|access_?key|sas_?key|credentials?|private_?key|connection_string)$/i;
/** What replaces a secret anywhere it would be shown. */
export const REDACTED = '***';

/** The password of a URL's user info (`mqtt://bob:PASS@host`): group 1 is what stays, group 2 the password. */
const URL_PASSWORD_RE = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)([^/\s@]+)@/gi;

/**
 * True for config keys whose names say they hold secrets: `password`, `key_passphrase`, `token`,
 * `sas_key`, ... A safety net beside the schemas' own marks ({@link registerSecrets}): it also covers
 * settings of plugins that are not loaded (disabled connectors) and values before validation.
 */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key);
}

/**
 * The secret values of a loaded config. Redacts them by key (objects) and by value (free text such
 * as error messages from a plugin that echoed a password).
 */
export class SecretRegistry {
  private readonly values = new Set<string>();
  private readonly extraKeys = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers a secret value (values shorter than 4 characters are only redacted by key). */
  add(value: string): void {
    if (value.length >= 4 && !this.values.has(value)) {
      this.values.add(value);
      this.pattern = undefined;
    }
  }

  /**
   * Registers the passwords of the URLs in `text` (`amqp://bob:PASS@host`), as written and
   * percent-decoded, so an error that echoes one is scrubbed too.
   */
  addUrlCredentials(text: string): void {
    for (const m of text.matchAll(URL_PASSWORD_RE)) {
      const password = m[2] ?? '';
      this.add(password);
      try {
        this.add(decodeURIComponent(password));
      } catch {
        // Not valid percent-encoding: the password as written is registered.
      }
    }
  }

  /** Registers a key a schema marks with `secret()` (the last segment of its path). */
  addKey(key: string): void {
    this.extraKeys.add(key);
  }

  isSecret(key: string): boolean {
    return isSecretKey(key) || this.extraKeys.has(key);
  }

  /** Replaces every registered secret value, and the password of any URL, inside `text`. */
  redactText(text: string): string {
    text = text.replace(URL_PASSWORD_RE, `$1${REDACTED}@`);
    if (!this.values.size) return text;
    this.pattern ??= new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map(escapeRe)
        .join('|'),
      'g',
    );
    return text.replace(this.pattern, REDACTED);
  }

  /** A deep copy with secret keys replaced by `***` and secret values scrubbed from strings. */
  redact<T>(value: T): T {
    return this.redactValue(value) as T;
  }

  private redactValue(value: unknown): unknown {
    if (typeof value === 'string') return this.redactText(value);
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v));
    if (value === null || typeof value !== 'object') return value;
    if (value instanceof Error) {
      const e = value as Error & { code?: unknown };
      return { type: e.name, message: this.redactText(e.message), ...(e.code !== undefined ? { code: e.code } : {}) };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = this.isSecret(k) && v !== undefined && v !== null && v !== '' ? REDACTED : this.redactValue(v);
    }
    return out;
  }
}

/**
 * Registers the secret fields of a schema, as {@link secretPaths} lists them (`password`,
 * `sasl.password`, `users.*.token`, `brokers[].token`): their keys (last path segment) are redacted
 * wherever they appear, and their string values in `input` (the settings as written) are redacted
 * in any text, such as an error message that echoes one.
 */
export function registerSecrets(secrets: SecretRegistry, paths: readonly string[], input: unknown): void {
  for (const path of paths) {
    const segments = path.split('.');
    const key = segments[segments.length - 1]!.replace(/\[\]$/, '');
    if (key !== '*') secrets.addKey(key);
    for (const v of valuesAt(input, segments)) if (typeof v === 'string') secrets.add(v);
  }
}

/** The values at a dotted path with `*` (any key) and `[]` (any item) segments. */
function valuesAt(node: unknown, segments: readonly string[]): unknown[] {
  if (!segments.length) return [node];
  if (node === null || typeof node !== 'object') return [];
  const [head, ...rest] = segments as [string, ...string[]];
  const list = head.endsWith('[]');
  const key = list ? head.slice(0, -2) : head;
  const children: unknown[] =
    key === '*' ? Object.values(node) : key === '' ? [node] : [(node as Record<string, unknown>)[key]];
  const next = list ? children.flatMap((c): unknown[] => (Array.isArray(c) ? (c as unknown[]) : [])) : children;
  return next.flatMap((c) => valuesAt(c, rest));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
