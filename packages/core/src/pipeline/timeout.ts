import { TransientError } from '../errors.js';

/**
 * Races `work` against a timer. On timeout throws a {@link TransientError} with the given `code`; a
 * later settlement of `work` is swallowed, so a late acknowledgement can neither ack twice nor
 * surface as an unhandled rejection.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string, code: string): Promise<T> {
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
