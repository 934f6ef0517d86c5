import { TransientError } from '../errors.js';

/**
 * Calls `fn` (a plugin method: a synchronous throw or a non-promise result are tolerated) and races
 * it against a timer. On timeout throws a {@link TransientError} with the given `code`; a later
 * settlement is swallowed, so a late acknowledgement can neither ack twice nor surface as an
 * unhandled rejection.
 */
export async function withTimeout<T>(fn: () => Promise<T> | T, ms: number, what: string, code: string): Promise<T> {
  const work = new Promise<T>((resolve) => resolve(fn()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransientError(`${what} timed out after ${ms} ms`, { code })), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
