// Alternating rounds and the result rows every `pnpm bench` writes. Node built-ins only: core's own
// benches import this file by path (core cannot depend on the testkit, which depends on core).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

/** Median and range of one side's samples. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** The median (the lower middle of an even count) and the range of `samples`. */
export function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('spread of no samples');
  return { median, min: sorted[0] ?? median, max: sorted.at(-1) ?? median };
}

/**
 * Runs every side once per round, in the order given, for `rounds` rounds (ours, baseline, ours,
 * baseline...), so a busy shared machine disturbs all sides alike. Returns each side's samples.
 */
export async function alternate<K extends string>(
  rounds: number,
  sides: Record<K, () => number | Promise<number>>,
  onRound?: (round: number, sample: Record<K, number>) => void,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(sides) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    const sample = {} as Record<K, number>;
    for (const k of keys) {
      sample[k] = await sides[k]();
      out[k].push(sample[k]);
    }
    onRound?.(round + 1, sample);
  }
  return out;
}

/** One row of `bench/results/<name>.json`; rates are points per second, ratio = ours / baseline. */
export interface BenchCase {
  case: string;
  /** Median of our rounds. */
  points_per_s: number;
  points_per_s_min?: number;
  points_per_s_max?: number;
  /** Median of the baseline's rounds (absent where a bench has no baseline). */
  baseline_points_per_s?: number;
  baseline_points_per_s_min?: number;
  baseline_points_per_s_max?: number;
  /** Ratio of the medians. */
  ratio?: number;
  /** Range of the per-round ratios (ours / baseline of the same round). */
  ratio_min?: number;
  ratio_max?: number;
  rounds?: number;
  /** Latency percentiles, ms, where a bench measures them. */
  p50_ms?: number;
  p99_ms?: number;
  /** CPU of the measured process, percent of one core. */
  cpu_percent?: number;
  /** Resident memory, MB. */
  rss_mb?: number;
  [extra: string]: unknown;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * A result row from paired samples of alternating rounds: medians and ranges of both sides, the
 * ratio of the medians and the range of the per-round ratios. `extra` adds fields (rss_mb, note...).
 */
export function compareRounds(
  name: string,
  ours: readonly number[],
  baseline: readonly number[],
  extra: Record<string, unknown> = {},
): BenchCase {
  if (ours.length !== baseline.length)
    throw new Error(`${name}: ${ours.length} rounds of ours, ${baseline.length} of baseline`);
  const o = spread(ours);
  const b = spread(baseline);
  const ratios = spread(ours.map((x, i) => x / (baseline[i] ?? NaN)));
  return {
    case: name,
    points_per_s: Math.round(o.median),
    points_per_s_min: Math.round(o.min),
    points_per_s_max: Math.round(o.max),
    baseline_points_per_s: Math.round(b.median),
    baseline_points_per_s_min: Math.round(b.min),
    baseline_points_per_s_max: Math.round(b.max),
    ratio: round2(o.median / b.median),
    ratio_min: round2(ratios.min),
    ratio_max: round2(ratios.max),
    rounds: ours.length,
    ...extra,
  };
}

/** The 1-minute load average and core count, for the note of a case (the machine is shared). */
export function machineLoad(): string {
  const [oneMinute = NaN] = loadavg();
  return `load average ${oneMinute.toFixed(1)} on ${cpus().length} cores`;
}

/** Writes `<BIFROST_BENCH_RESULTS>/<name>.json` (default `bench/results` of the repo) and prints the table. */
export function writeResults(name: string, cases: readonly BenchCase[], extra: Record<string, unknown> = {}): void {
  const dir =
    process.env.BIFROST_BENCH_RESULTS ?? join(import.meta.dirname, '..', '..', '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ name, ...extra, cases }, null, 2)}\n`);
  for (const c of cases) {
    const range = (lo?: number, hi?: number) => (lo === undefined ? '' : ` [${lo}-${hi}]`);
    console.log(
      `${c.case}: ${c.points_per_s}${range(c.points_per_s_min, c.points_per_s_max)} points/s${c.baseline_points_per_s === undefined ? '' : ` vs baseline ${c.baseline_points_per_s}${range(c.baseline_points_per_s_min, c.baseline_points_per_s_max)} = ${String(c.ratio)}x${range(c.ratio_min, c.ratio_max)}`}${c.p99_ms === undefined ? '' : ` p50 ${c.p50_ms} p99 ${c.p99_ms} ms`}${c.cpu_percent === undefined ? '' : ` cpu ${c.cpu_percent}%`}${c.rss_mb === undefined ? '' : ` rss ${c.rss_mb} MB`}`,
    );
  }
}
