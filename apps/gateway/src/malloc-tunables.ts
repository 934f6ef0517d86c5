// After a burst, glibc's allocator keeps what the gateway's native side (socket reads, SQLite,
// buffers) freed: its default mmap threshold rises with the first large buffer freed, so later large
// buffers come from the heap and, once freed, stay resident around the few live blocks between
// them; and each thread gets its own arena. With a fixed 16 KiB threshold, the main thread's
// medium-sized buffers (queue chunk payloads, blobs read back from SQLite) are mapped and unmapped
// on their own instead of fragmenting the heap. 1M points queued while the broker is down, then
// drained, RSS 5 s later (the method of `pnpm bench gateway`), idle about 75 MB: 141 MB with
// glibc's defaults, 112-121 MB with a 64 KiB threshold, 106-107 MB with 16 KiB. A running process
// cannot change them (glibc reads them once, at start; node has no mallopt or malloc_trim), hence
// the re-exec of `bifrost run`.

/** The glibc allocator settings of `bifrost run` (GLIBC_TUNABLES syntax). */
export const MALLOC_TUNABLES =
  'glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=16384:glibc.malloc.trim_threshold=131072';

/**
 * The environment `bifrost run` re-executes itself with (same pid, same arguments, through
 * `process.execve`) so that glibc's allocator runs with {@link MALLOC_TUNABLES}; undefined when it
 * runs as it is: another command, GLIBC_TUNABLES already set (by a re-exec, or by the user: set it,
 * even empty, to keep glibc's defaults), not Linux with glibc, or a Node without `process.execve`.
 */
export function mallocTunablesEnv(argv: readonly string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | undefined {
  if (argv[2] !== 'run' || env.GLIBC_TUNABLES !== undefined) return undefined;
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return undefined;
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  if (!header?.glibcVersionRuntime) return undefined;
  return { ...env, GLIBC_TUNABLES: MALLOC_TUNABLES };
}
