#!/usr/bin/env node
// `pnpm docs:tables [package-dir...]`: regenerates the option table of every plugin README (between
// `<!-- options:start ... -->` and `<!-- options:end -->`) from the config schema of the plugin's
// built default export. Plugins are the packages whose package.json has a `bifrost.role`; a README
// without the markers is reported and left alone. Run after `build` (the root script does).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('../..', import.meta.url).pathname;
const { writeReadmeOptionsTable } = await import(
  pathToFileURL(join(root, 'packages/connector-testkit/dist/docs/index.js')).href
);

const wanted = process.argv.slice(2);
let failed = false;
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name);
    const manifestPath = join(dir, 'package.json');
    if (!existsSync(manifestPath) || (wanted.length && !wanted.includes(name))) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (!manifest.bifrost?.role) continue;
    const readme = join(dir, 'README.md');
    if (!readFileSync(readme, 'utf8').includes('<!-- options:start')) {
      console.log(`${group}/${name}: README.md has no <!-- options:start --> marker, skipped`);
      continue;
    }
    const plugin = (await import(pathToFileURL(join(dir, manifest.exports?.['.']?.import ?? manifest.main)).href))
      .default;
    if (!plugin?.configSchema) {
      console.error(`${group}/${name}: the default export has no configSchema`);
      failed = true;
      continue;
    }
    console.log(
      `${group}/${name}: README.md option table ${writeReadmeOptionsTable(readme, plugin.configSchema) ? 'updated' : 'unchanged'}`,
    );
  }
}
process.exit(failed ? 1 : 0);
