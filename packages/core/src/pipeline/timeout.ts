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

/**
 * Like {@link withTimeout} for a call that takes an abort signal (a connector's `write`): when `ms`
 * pass, or `stop` is aborted, the call's signal is aborted and the call gets `graceMs` to settle.
 * If it still succeeds then (the remote side acknowledged before the cancel took), its result is
 * returned; otherwise a {@link TransientError} with `code` is thrown. So a caller that retries after
 * the error does not overlap the call it gave up on, unless that call ignored its signal for the
 * whole grace period (`onAbandon` is told).
 */
export async function withAbortableTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T> | T,
  opts: { ms: number; graceMs: number; what: string; code: string; stop?: AbortSignal; onAbandon?: () => void },
): Promise<T> {
  const controller = new AbortController();
  const work = new Promise<T>((resolve) => resolve(fn(controller.signal)));
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let onStop: (() => void) | undefined;
  const gaveUp = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${opts.what} timed out after ${opts.ms} ms`), opts.ms);
    onStop = () => resolve(`${opts.what} cancelled: the connector is stopping`);
    if (opts.stop?.aborted) onStop();
    else opts.stop?.addEventListener('abort', onStop, { once: true });
  });
  try {
    const first = await Promise.race([work.then((value) => ({ value })), gaveUp.then((reason) => ({ reason }))]);
    if ('value' in first) return first.value;
    controller.abort(new TransientError(first.reason, { code: opts.code }));
    const late = await Promise.race([
      work.then(
        (value) => ({ value }),
        () => ({ failed: true }),
      ),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), opts.graceMs).unref()),
    ]);
    if (late && 'value' in late) return late.value;
    if (!late) opts.onAbandon?.();
    throw new TransientError(first.reason, { code: opts.code });
  } finally {
    clearTimeout(timer);
    if (onStop) opts.stop?.removeEventListener('abort', onStop);
  }
}
