import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** One `<number><unit>` part; a duration is one or more of them (`1m30s`). */
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
const PLAIN_MS_RE = /^\d+(?:\.\d+)?$/;

/** Thrown by {@link parseDuration}; `code` is stable. */
export class DurationError extends Error {
  readonly code = 'BIFROST_ERR_INVALID_DURATION';
  constructor(readonly input: unknown) {
    super(
      `[bifrost] invalid duration ${JSON.stringify(input)}: use a number of milliseconds or a string like 500ms, 5s, 2m, 1h, 1d or 1m30s`,
    );
    this.name = 'DurationError';
  }
}

/**
 * Converts a duration as users write it to milliseconds: a non-negative number is taken as
 * milliseconds; a string is one or more `<number><unit>` parts with units `ms`, `s`, `m`, `h`, `d`
 * (`500ms`, `5s`, `1.5m`, `1h30m`), or plain digits (milliseconds). Fractions of a millisecond are
 * rounded. Throws {@link DurationError} for anything else (negative, empty, unknown unit).
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new DurationError(input);
    return Math.round(input);
  }
  if (typeof input !== 'string') throw new DurationError(input);
  const text = input.trim();
  if (PLAIN_MS_RE.test(text)) return Math.round(Number(text));
  if (text === '') throw new DurationError(input);
  let total = 0;
  let end = 0;
  PART_RE.lastIndex = 0;
  for (let m = PART_RE.exec(text); m; m = PART_RE.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2] as Unit];
    end = PART_RE.lastIndex;
  }
  if (end !== text.length) throw new DurationError(input);
  return Math.round(total);
}

/**
 * zod schema of a duration field: accepts what {@link parseDuration} accepts and outputs
 * milliseconds; invalid input fails with a message giving the accepted forms (zod adds the path).
 */
export const durationSchema = z
  .union([z.number(), z.string()], {
    error: 'must be a duration like 500ms, 5s, 2m or 1h, or a number of milliseconds',
  })
  .transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch {
      ctx.addIssue({
        code: 'custom',
        input: value,
        // As in zod 3, a bad value does not abort: a union holding it (`devices: N | [...]`)
        // reports this issue at its own path rather than a bare invalid_union.
        continue: true,
        message: `invalid duration ${JSON.stringify(value)}: use a duration like 500ms, 5s, 2m or 1h, or a number of milliseconds`,
      });
      return z.NEVER;
    }
  });
