// Scanning a rowid range past a part of an SQLite b-tree that cannot be read.
import { isDamage } from './sqlite-errors.js';

/**
 * Rows of a keyed range read past damage: `query(from)` returns rows after `from` in scan order
 * (ascending, or descending when `step` is -1) and throws where the b-tree path to `from` is
 * damaged. Starting points further and further from `from` (1, 2, 4, ... keys away) are tried until
 * one can be read, then the first readable start after the damage is narrowed down by bisection,
 * so that a damaged page costs about 2 log2(range) queries and skips only the rows it held.
 * Returns the rows from that start ([] when none can be read before `bound`); rethrows errors
 * that are not damage.
 */
export function scanPastDamage<T>(query: (from: number) => T[], from: number, bound: number, step: 1 | -1): T[] {
  const tryQuery = (at: number): T[] | undefined => {
    try {
      return query(at);
    } catch (err) {
      if (!isDamage(err)) throw err;
      return undefined;
    }
  };
  let bad = from;
  let good = from;
  let rows: T[] | undefined;
  for (let dist = 1; !rows; dist *= 2) {
    good = from + step * dist;
    if (step > 0 ? good >= bound : good <= bound) return [];
    rows = tryQuery(good);
    if (!rows) bad = good;
  }
  while (Math.abs(good - bad) > 1) {
    const mid: number = bad + step * Math.floor(Math.abs(good - bad) / 2);
    const r = tryQuery(mid);
    if (r) {
      good = mid;
      rows = r;
    } else bad = mid;
  }
  return rows;
}
