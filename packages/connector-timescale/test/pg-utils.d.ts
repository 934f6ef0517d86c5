// pg's own parameter serialiser (public in its package exports as `pg/lib/utils.js`, untyped by @types/pg).
declare module 'pg/lib/utils.js' {
  /** Converts a JavaScript value (arrays included) to the text PostgreSQL receives as a parameter. */
  export function prepareValue(value: unknown): string | Buffer | null;
}
