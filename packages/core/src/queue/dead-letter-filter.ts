// Dead-letter filters: checking a DeadLetterFilter, and applying one in memory (memory store).
import type { DeadLetterFilter } from './types.js';

/** Applies a {@link DeadLetterFilter} to entries already in seq order (in-memory stores). */
export function filterDeadLetters<T extends { seq: number; connector: string }>(
  all: T[],
  filter: DeadLetterFilter,
): T[] {
  const seqs = filter.seqs ? new Set(filter.seqs) : undefined;
  const matching = all.filter(
    (d) => (!filter.connector || d.connector === filter.connector) && (!seqs || seqs.has(d.seq)),
  );
  const offset = filter.offset ?? 0;
  return matching.slice(offset, filter.limit === undefined ? undefined : offset + filter.limit);
}

/** Checks a filter from an API caller and names the field at fault. */
export function checkDeadLetterFilter(filter: DeadLetterFilter): void {
  const bad = (field: string, what: string) => new TypeError(`[bifrost] dead-letter filter: ${field} must be ${what}`);
  if (filter.connector !== undefined && typeof filter.connector !== 'string') throw bad('connector', 'a string');
  if (filter.seqs !== undefined && (!Array.isArray(filter.seqs) || !filter.seqs.every((s) => Number.isInteger(s))))
    throw bad('seqs', 'an array of integers');
  if (filter.limit !== undefined && !(Number.isInteger(filter.limit) && filter.limit >= 0))
    throw bad('limit', 'a non-negative integer');
  if (filter.offset !== undefined && !(Number.isInteger(filter.offset) && filter.offset >= 0))
    throw bad('offset', 'a non-negative integer');
}
