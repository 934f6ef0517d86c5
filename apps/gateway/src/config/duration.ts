import { z } from 'zod';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * A duration as users write it (`500ms`, `5s`, `2m`, `1h`) or a plain number of milliseconds;
 * parses to milliseconds.
 */
export const duration = z
  .union([
    z.number().finite().nonnegative(),
    z.string().regex(DURATION_RE, 'must be a duration like 500ms, 5s, 2m or 1h'),
  ])
  .transform((v) => {
    if (typeof v === 'number') return v;
    const [, n, unit] = DURATION_RE.exec(v)!;
    return Math.round(Number(n) * UNIT_MS[unit!]!);
  });
