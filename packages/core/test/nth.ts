// Index reads in tests that fail the test, with what was found, when the item is missing.

/** `items[i]`, failing the test with the length it found when there is no such item. */
export function nth<T>(items: readonly T[], i: number): T {
  if (i < 0 || i >= items.length) throw new Error(`expected an item at index ${i}, found ${items.length} items`);
  return items[i] as T;
}

type Tuple<T, N extends number, R extends T[] = []> = R['length'] extends N ? R : Tuple<T, N, [T, ...R]>;

/** The first `n` items as a tuple (for destructuring), failing the test when there are fewer. */
export function take<T, N extends number>(items: readonly T[], n: N): Tuple<T, N> {
  if (items.length < n) throw new Error(`expected at least ${n} items, found ${items.length}`);
  return items.slice(0, n) as Tuple<T, N>;
}
