import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadTlsMaterial, type TlsFileOptions } from './load.js';
import type { TlsMaterial } from './types.js';

export interface TlsWatchOptions {
  /** Quiet time after the last file event before reloading, so a cert and key written one after the other load together. Default 500 ms. */
  debounceMs?: number;
  /** Also re-read the files this often, for file systems where change events are missed (NFS, some containers); 0 = never. Default 60 s. */
  pollIntervalMs?: number;
  /** Called when changed files fail the checks (the previous material stays in use). */
  onError?: (err: unknown) => void;
}

/** A running watch; `material` is always the last set of files that passed every check. */
export interface TlsWatcher {
  readonly material: TlsMaterial;
  /** How many times the files were re-read and compared since the watch started. */
  readonly checks: number;
  close(): void;
}

/**
 * Loads the TLS files like {@link loadTlsMaterial} and keeps watching them, so certificates can be
 * rotated without a restart: when a file changes (fs.watch on the containing directories, which also
 * sees atomic renames and Kubernetes secret symlink swaps, plus a periodic re-read as fallback), the
 * files are re-read after `debounceMs` of quiet and, when they differ and pass every check,
 * `onChange` gets the new material. Invalid new files go to `onError` and the old material stays;
 * the same broken content is reported once. Throws like {@link loadTlsMaterial} if the initial
 * files are bad.
 */
export async function watchTlsMaterial(
  opts: TlsFileOptions,
  onChange: (material: TlsMaterial) => void,
  { debounceMs = 500, pollIntervalMs = 60_000, onError }: TlsWatchOptions = {},
): Promise<TlsWatcher> {
  const paths = [opts.ca_file, opts.cert_file, opts.key_file]
    .filter((p): p is string => Boolean(p))
    .map((p) => resolve(p));
  const snapshot = async (): Promise<string> =>
    (
      await Promise.all(
        paths.map((p) => readFile(p, 'utf8').catch((e: NodeJS.ErrnoException) => `\0missing:${e.code}`)),
      )
    ).join('\0');

  let seen = await snapshot();
  let material = await loadTlsMaterial(opts);
  let closed = false;
  let checking: Promise<void> | undefined;
  let recheck = false;
  let checks = 0;

  const check = async (): Promise<void> => {
    const now = await snapshot();
    checks++;
    if (closed || now === seen) return;
    seen = now;
    try {
      const next = await loadTlsMaterial(opts);
      if (closed) return;
      material = next;
      onChange(next);
    } catch (e) {
      onError?.(e);
    }
  };
  // One check at a time; events during a check trigger one more afterwards.
  const runCheck = (): void => {
    if (closed) return;
    if (checking) {
      recheck = true;
      return;
    }
    checking = check()
      .catch((e) => onError?.(e))
      .finally(() => {
        checking = undefined;
        if (recheck) {
          recheck = false;
          runCheck();
        }
      });
  };

  let debounce: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(runCheck, debounceMs);
    debounce.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      w.on('error', () => w.close()); // directory gone: the poll keeps going
      watchers.push(w);
    } catch {
      // fs.watch unavailable here (inotify limit, unsupported file system): polling covers it.
    }
  }
  const poll = pollIntervalMs > 0 ? setInterval(runCheck, pollIntervalMs) : undefined;
  poll?.unref();

  return {
    get material() {
      return material;
    },
    get checks() {
      return checks;
    },
    close() {
      closed = true;
      clearTimeout(debounce);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
