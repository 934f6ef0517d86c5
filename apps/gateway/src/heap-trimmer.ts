// After a burst, V8 keeps the heap it grew to: with nothing left to allocate, no collection runs,
// and the garbage of a million parsed points (and the pages under it) stays resident for good. The
// trimmer runs one memory-reducing collection once the gateway is quiet again, the collection V8
// itself runs only when it is short of memory.
import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's `gc` with options (exposed by `--expose-gc`); `last-resort` also compacts and releases pages. */
type GcFunction = (options: { type: 'major'; execution: 'sync' | 'async'; flavor: 'regular' | 'last-resort' }) => void;

export interface HeapTrimmerOptions {
  /** How often the heap and the event loop are looked at. Default 5 s. */
  intervalMs?: number;
  /** Growth of the committed heap since the last trim that makes a quiet gateway trim again. Default 16 MiB. */
  growthBytes?: number;
  /** Event-loop utilisation below which the gateway counts as quiet. Default 0.05. */
  quietUtilization?: number;
}

/** A running trimmer. */
export interface HeapTrimmer {
  /** Collections it has run. */
  readonly trims: number;
  stop(): void;
}

/** Exposes V8's `gc` without starting node with a flag. */
function exposedGc(): GcFunction {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GcFunction;
}

/**
 * Starts the trimmer. Every `intervalMs`: when the event loop was quiet
 * over the interval and the committed heap grew by `growthBytes` or more since the last trim (or
 * the start), one memory-reducing full collection. A busy gateway is never collected by it.
 */
export function startHeapTrimmer(opts: HeapTrimmerOptions = {}): HeapTrimmer {
  const gc = exposedGc();
  const growth = opts.growthBytes ?? 16 * 1_048_576;
  const quiet = opts.quietUtilization ?? 0.05;
  let baseline = getHeapStatistics().total_heap_size;
  let last = performance.eventLoopUtilization();
  let trims = 0;
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    if (utilization >= quiet || getHeapStatistics().total_heap_size < baseline + growth) return;
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    baseline = getHeapStatistics().total_heap_size;
    trims++;
  }, opts.intervalMs ?? 5_000);
  timer.unref();
  return {
    get trims() {
      return trims;
    },
    stop: () => clearInterval(timer),
  };
}
