#!/usr/bin/env node
// npm create bifrost-connector@latest <dir> [--type <type>] [--name <package name>]
// Scaffolds a TypeScript Bifrost connector package: config schema, README (option table generated
// from the schema), a stand-in local peer, a TCP fault proxy and the conformance suite wired up.
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const TEMPLATE = join(HERE, '..', 'template');
const OWN = JSON.parse(readFileSync(join(HERE, '..', 'package.json'), 'utf8'));

function fail(msg) {
  process.stderr.write(`create-bifrost-connector: ${msg}\n`);
  process.exit(1);
}

const USAGE = `usage: npm create bifrost-connector@latest <dir> [-- --type <type>] [--name <package>]

  <dir>     directory to create (must not exist or be empty)
  --type    the connector type users write as \`type:\` (default: from <dir>, e.g. bifrost-connector-webhook -> webhook)
  --name    the npm package name (default: bifrost-connector-<type>; or @scope/bifrost-connector-<type>)
`;

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: { type: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (err) {
  fail(`${err.message}\n${USAGE}`);
}
if (args.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const dirArg = args.positionals[0];
if (!dirArg) fail(`which directory?\n${USAGE}`);
const target = resolve(dirArg);
if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length))
  fail(`${dirArg} exists and is not an empty directory`);

const type = (args.values.type ?? basename(target).replace(/^bifrost-connector-/, ''))
  .toLowerCase()
  .replace(/[^a-z0-9-]+/g, '-')
  .replace(/^[^a-z]+|-+$/g, '');
if (!/^[a-z][a-z0-9-]*$/.test(type)) fail(`cannot make a connector type of "${dirArg}": pass --type <lowercase-name>`);
const name = args.values.name ?? `bifrost-connector-${type}`;
if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?bifrost-connector-[a-z0-9-]+$/.test(name) && !name.startsWith('@bifrost/'))
  process.stderr.write(
    `warning: ${name} does not follow the naming rule (bifrost-connector-<type> or @scope/bifrost-connector-<type>); the gateway finds it only by its bifrost field or plugin:\n`,
  );
const pascal = type.replace(/(^|-)([a-z0-9])/g, (_, __, c) => c.toUpperCase());
const code = type.toUpperCase().replace(/-/g, '_');
// The @bifrost packages of the same release as this scaffolder.
const coreRange = `^${OWN.version}`;

cpSync(TEMPLATE, target, { recursive: true });
renameSync(join(target, 'gitignore'), join(target, '.gitignore')); // npm drops .gitignore from tarballs
renameSync(join(target, '_package.json'), join(target, 'package.json')); // a nested package.json would be a package of its own in ours
const walk = (d) =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
for (const file of walk(target)) {
  const text = readFileSync(file, 'utf8');
  const out = text
    .replaceAll('__NAME__', name)
    .replaceAll('__TYPE__', type)
    .replaceAll('__PASCAL__', pascal)
    .replaceAll('__CODE__', code)
    .replaceAll('__CORE_RANGE__', coreRange);
  if (out !== text) writeFileSync(file, out);
}

const shown = relative(process.cwd(), target) || '.';
process.stdout.write(`Created ${name} (type: ${type}) in ${shown}

Next:
  cd ${shown}
  npm install
  npm test          # the Bifrost conformance suite against a local stand-in receiver
  
Then replace the HTTP calls in src/index.ts with your platform's protocol and test/local-peer.ts
with its server. Guide: https://github.com/bifrost-iiot/bifrost/blob/main/docs/writing-a-connector.md
`);
