#!/usr/bin/env node
// Rewrites every README's bench tables from bench/results/<name>.json, so a README figure is exactly
// what the bench wrote. A table sits between `<!-- bench:<name>:start -->` and
// `<!-- bench:<name>:end -->`. `pnpm bench` runs this after its benches; `--check` only reports
// tables that differ (exit 1).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');

const k = (n) =>
  n >= 1_000_000
    ? `${(n / 1e6).toFixed(2)}M`
    : n >= 10_000
      ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k`
      : String(n);
const range = (lo, hi, f = (x) => x) => (lo === undefined || lo === hi ? '' : ` (${f(lo)}-${f(hi)})`);

/** One markdown row of a result case. */
function row(c) {
  const ours = c.points_per_s ? `${k(c.points_per_s)}${range(c.points_per_s_min, c.points_per_s_max, k)}` : '';
  const base =
    c.baseline_points_per_s === undefined
      ? ''
      : `${k(c.baseline_points_per_s)}${range(c.baseline_points_per_s_min, c.baseline_points_per_s_max, k)}`;
  const ratio = c.ratio === undefined || c.ratio === 0 ? '' : `**${c.ratio}x**${range(c.ratio_min, c.ratio_max)}`;
  const extra = [
    c.median_ms !== undefined && `median ${c.median_ms} ms vs ${c.baseline_median_ms} ms`,
    c.p99_ms !== undefined && !Number.isNaN(c.p99_ms) && c.p99_ms !== null && `p50 ${c.p50_ms} / p99 ${c.p99_ms} ms`,
    c.baseline_p99_ms !== undefined &&
      c.baseline_p99_ms !== null &&
      `baseline p50 ${c.baseline_p50_ms} / p99 ${c.baseline_p99_ms} ms`,
    c.cpu_percent !== undefined && `CPU ${c.cpu_percent}%`,
    c.baseline_cpu_percent !== undefined && `baseline CPU ${c.baseline_cpu_percent}%`,
    c.rss_mb !== undefined && `RSS ${c.rss_mb} MB`,
    c.baseline_rss_mb !== undefined && `baseline RSS ${c.baseline_rss_mb} MB`,
    c.lost && `lost ${c.lost}`,
    c.baseline_lost && `baseline lost ${c.baseline_lost}`,
  ].filter(Boolean);
  return `| ${c.case.replaceAll('|', '\\|')} | ${ours} | ${base} | ${ratio} | ${extra.join(', ')} |`;
}

function table(name) {
  const file = join(root, 'bench', 'results', `${name}.json`);
  if (!existsSync(file)) return `Not run yet: \`pnpm bench ${name}\` writes this table.`;
  const { cases } = JSON.parse(readFileSync(file, 'utf8'));
  return [
    `Written by \`pnpm bench ${name}\` (bench/results/${name}.json): medians of alternating rounds, (min-max) ranges, ratio = ours / baseline of the medians with the range of per-round ratios.`,
    '',
    '| case | ours points/s | baseline points/s | ratio | more |',
    '| --- | --- | --- | --- | --- |',
    ...cases.map(row),
  ].join('\n');
}

const readmes = ['README.md'];
for (const group of ['packages', 'apps'])
  for (const pkg of readdirSync(join(root, group)))
    if (existsSync(join(root, group, pkg, 'README.md'))) readmes.push(join(group, pkg, 'README.md'));

let stale = 0;
for (const rel of readmes) {
  const path = join(root, rel);
  const text = readFileSync(path, 'utf8');
  const next = text.replace(
    /(<!-- bench:([\w-]+):start -->)[\s\S]*?(<!-- bench:\2:end -->)/g,
    (_, start, name, end) => `${start}\n${table(name)}\n${end}`,
  );
  if (next === text) continue;
  stale++;
  if (check) console.error(`${rel}: bench tables differ from bench/results`);
  else {
    writeFileSync(path, next);
    console.log(`${rel}: bench tables rewritten`);
  }
}
if (check && stale) process.exit(1);
