// Scanning a rowid range past a part of an SQLite b-tree that cannot be read.
import { isDamage, SQLITE_CORRUPT } from './sqlite-errors.js';

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

/**
 * Checks that rows a keyed scan returned lie after `from` in scan order, strictly in order, and
 * within `bound`; throws an SQLITE_CORRUPT error otherwise. A damaged b-tree can hand back rows out
 * of order or outside the range asked for (a range on the rowid is served by the b-tree's order,
 * not checked row by row), and a scan trusting them would go back and forth forever.
 */
export function inScanOrder<T extends Record<K, number>, K extends string>(
  rows: T[],
  key: K,
  from: number,
  bound: number,
  step: 1 | -1,
): T[] {
  let last = from;
  for (const r of rows) {
    const k = r[key];
    if ((k - last) * step <= 0 || (bound - k) * step <= 0) {
      throw Object.assign(new Error(`rows out of order (${k} after ${last}): the b-tree is damaged`), {
        errcode: SQLITE_CORRUPT,
      });
    }
    last = k;
  }
  return rows;
}
