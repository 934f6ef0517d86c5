/**
 * A level-triggered wake-up for a loop that sleeps until something happens or a deadline passes:
 * `notify()` before `wait()` is not lost (the next wait returns at once).
 */
export class Wakeup {
  private pending = false;
  private waiter: (() => void) | undefined;

  notify(): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w();
    } else {
      this.pending = true;
    }
  }

  /** Resolves on the next (or a pending) `notify()`, or after `ms`. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(
        () => {
          if (this.waiter === done) this.waiter = undefined;
          resolve();
        },
        Math.max(0, ms),
      );
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiter = done;
    });
  }
}

/** Sleeps `ms`, or less when `signal` aborts (then resolves, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
