#!/usr/bin/env node
// `pnpm bench [name...]`: runs packages/*/bench/<name>.ts (all when no name is given) with this
// repo's Node 24 after building what they need. Each bench writes bench/results/<name>.json; then
// scripts/bench-tables.mjs rewrites the README tables from those files.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const found = new Map();
for (const group of ['packages', 'apps']) {
  for (const pkg of readdirSync(join(root, group))) {
    const dir = join(root, group, pkg, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir))
      if (f.endsWith('.ts') && !f.startsWith('_'))
        found.set(f.slice(0, -3), { pkgDir: join(root, group, pkg), file: join(dir, f) });
  }
}
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : [...found.keys()];
const missing = names.filter((n) => !found.has(n));
if (missing.length) {
  console.error(`unknown bench: ${missing.join(', ')}; available: ${[...found.keys()].join(', ')}`);
  process.exit(2);
}
execFileSync('pnpm', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});
for (const name of names) {
  const { pkgDir, file } = found.get(name);
  console.log(`\n== bench ${name} ==`);
  execFileSync(process.execPath, ['--expose-gc', file], {
    cwd: pkgDir,
    stdio: 'inherit',
    env: { ...process.env, BIFROST_BENCH_RESULTS: join(root, 'bench/results') },
  });
}
// README bench tables are what the benches just wrote.
execFileSync(process.execPath, [join(root, 'scripts', 'bench-tables.mjs')], { cwd: root, stdio: 'inherit' });
