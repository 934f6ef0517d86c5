import { createConnection } from 'node:net';

/** True when something accepts a TCP connection on `host:port` (default host 127.0.0.1). */
export function tcpOpen(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when `url` answers with one of `statuses` (default any 2xx). Network errors count as not ready. */
export async function httpReady(
  url: string,
  init: RequestInit & { statuses?: readonly number[] } = {},
): Promise<boolean> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return init.statuses ? init.statuses.includes(res.status) : res.ok;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every `intervalMs` until it returns true. Throws `describe()`'s text on timeout,
 * or at once when `failFast()` returns a reason (e.g. the process exited).
 */
export async function waitFor(
  probe: () => Promise<boolean> | boolean,
  opts: { timeoutMs: number; intervalMs?: number; failFast?: () => string | undefined; describe: () => string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const failed = opts.failFast?.();
    if (failed) throw new Error(failed);
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(opts.describe());
    await sleep(opts.intervalMs ?? 100);
  }
}
