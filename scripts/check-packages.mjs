#!/usr/bin/env node
// The user's path, checked: pack every public package, install `@bifrost/gateway` and
// `@bifrost/connector-mqtt` with npm into an empty folder outside the workspace (from the tarballs,
// as a user would from the registry), run `npx bifrost validate` and `npx bifrost run` on a config
// that reaches only the embedded broker, count what an MQTT subscriber receives; then lint every
// tarball (contents, source maps, publint, @arethetypeswrong/cli) and `pnpm -r publish --dry-run`.
// Fails (exit 1) on the first error. Run by `pnpm test` (the test:integration of
// tooling/package-check) or directly: `pnpm exec node scripts/check-packages.mjs`.
//
// Options (environment): BIFROST_PACKAGE_CHECK_KEEP=1 keeps the temporary folder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHECK_DIR = join(ROOT, 'tooling', 'package-check');
const BIN = join(CHECK_DIR, 'node_modules', '.bin');
// The installed gateway needs Node >= 22.13 (node:sqlite): run everything on this Node (the repo's
// Node 24 under pnpm), first on PATH so `npx` and the `bifrost` shebang find it.
const NODE_BIN_DIR = dirname(process.execPath);
const ENV = { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH}`, NO_COLOR: '1', FORCE_COLOR: '0' };
// We call npm and pnpm ourselves: drop the settings pnpm passes to its scripts (npm warns about
// the pnpm-only ones), keeping those a network needs.
for (const k of Object.keys(ENV))
  if (/^npm_(config|package|lifecycle)_/i.test(k) && !/registry|proxy|cafile|strict_ssl|cache$/i.test(k)) delete ENV[k];
const started = Date.now();
const failures = [];

function log(msg) {
  process.stdout.write(`[package-check +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
}

function die(msg) {
  process.stderr.write(`[package-check] FAILED: ${msg}\n`);
  cleanup(true);
  process.exit(1);
}

/** Runs a command to completion; dies on a non-zero exit unless `allowFail`. */
function run(cmd, args, { cwd = ROOT, allowFail = false, timeout = 300_000, env = ENV } = {}) {
  const res = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  if (!allowFail && (res.status !== 0 || res.error)) {
    die(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${res.status ?? res.error}:\n${out.trim()}`);
  }
  return { status: res.status, out };
}

const tmp = mkdtempSync(join(tmpdir(), 'bifrost-package-check-'));
let gatewayChild;
function cleanup(failed) {
  if (gatewayChild && gatewayChild.exitCode === null) {
    try {
      process.kill(-gatewayChild.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (process.env.BIFROST_PACKAGE_CHECK_KEEP || failed) {
    process.stderr.write(`[package-check] temporary folder kept: ${tmp}\n`);
    return;
  }
  rmSync(tmp, { recursive: true, force: true });
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Pack every public workspace package.

const packageDirs = ['packages', 'apps']
  .flatMap((d) => readdirSync(join(ROOT, d)).map((n) => join(ROOT, d, n)))
  .filter((d) => existsSync(join(d, 'package.json')))
  .filter((d) => !JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).private);
const tarDir = join(tmp, 'tarballs');
mkdirSync(tarDir);
/** name -> { dir, tarball, pkg } */
const packed = new Map();
for (const dir of packageDirs) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.files?.includes('dist') && !existsSync(join(dir, 'dist')))
    die(`${pkg.name}: no dist/ (run pnpm build first)`);
  const before = new Set(readdirSync(tarDir));
  run('pnpm', ['pack', '--pack-destination', tarDir], { cwd: dir });
  const tarball = readdirSync(tarDir).find((f) => !before.has(f));
  if (!tarball) die(`${pkg.name}: pnpm pack wrote no tarball`);
  packed.set(pkg.name, { dir, tarball: join(tarDir, tarball), pkg });
}
log(`packed ${packed.size} packages: ${[...packed.keys()].join(', ')}`);
if (!packed.has('@bifrost/gateway')) die('@bifrost/gateway was not packed (is it private?)');

// ---------------------------------------------------------------------------------------------
// 2. Tarball contents: metadata, LICENSE/README/CHANGELOG, and every source map resolvable inside it.

for (const [name, { tarball }] of packed) {
  const x = join(tmp, 'unpacked', name.replace('/', '+'));
  mkdirSync(x, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', x]);
  const root = join(x, 'package');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const problems = [];
  for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md'])
    if (!existsSync(join(root, f))) problems.push(`${f} missing`);
  if (
    existsSync(join(root, 'LICENSE')) &&
    !/Apache License\s+Version 2\.0/.test(readFileSync(join(root, 'LICENSE'), 'utf8'))
  )
    problems.push('LICENSE is not the Apache-2.0 text');
  if (pkg.license !== 'Apache-2.0') problems.push(`license ${pkg.license}`);
  if (!pkg.repository?.url || !pkg.repository?.directory) problems.push('repository (with directory) missing');
  if (!pkg.homepage) problems.push('homepage missing');
  if (!pkg.bugs?.url) problems.push('bugs missing');
  if (pkg.publishConfig?.access !== 'public') problems.push('publishConfig.access is not public');
  if (JSON.stringify(pkg).includes('workspace:')) problems.push('a workspace: range survived packing');
  const walk = (d) =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)],
    );
  const files = walk(root);
  if (files.some((f) => /\.test\.ts$/.test(f) && !f.startsWith(join(root, 'template'))))
    problems.push('test files shipped');
  let maps = 0;
  for (const f of files.filter((p) => p.endsWith('.map'))) {
    maps++;
    const map = JSON.parse(readFileSync(f, 'utf8'));
    for (const s of map.sources ?? []) {
      const target = resolve(dirname(f), map.sourceRoot ?? '', s);
      if (!existsSync(target)) problems.push(`${relative(root, f)} points at ${relative(root, target)}, not shipped`);
    }
  }
  if (pkg.bin) {
    for (const b of Object.values(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin)) {
      const file = join(root, b);
      if (!existsSync(file)) problems.push(`bin ${b} missing`);
      else if (!readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node')) problems.push(`bin ${b} has no shebang`);
    }
  }
  if (problems.length) failures.push(`${name} tarball:\n  ${problems.slice(0, 20).join('\n  ')}`);
  else log(`${name}: ${files.length} files, ${maps} source maps resolved, LICENSE/README/CHANGELOG present`);
}
if (failures.length) die(failures.join('\n'));

// ---------------------------------------------------------------------------------------------
// 3. What a user does: npm i @bifrost/gateway @bifrost/connector-mqtt, in an empty folder.

const app = join(tmp, 'app');
mkdirSync(app);
writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'bifrost-user', private: true }, null, 2)}\n`);
// npm resolves the gateway's and the connector's own @bifrost dependencies from the registry unless
// their tarballs are named too: name every tarball those two need (core, source-simulator).
const wanted = ['@bifrost/gateway', '@bifrost/connector-mqtt'];
const closure = new Set();
const addWithDeps = (name) => {
  if (closure.has(name)) return;
  closure.add(name);
  const { pkg } = packed.get(name) ?? die(`${name} not packed`);
  for (const d of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) if (packed.has(d)) addWithDeps(d);
};
wanted.forEach(addWithDeps);
log(`npm install ${[...closure].join(' ')} (from tarballs) in ${app}`);
run(
  'npm',
  ['install', '--no-audit', '--no-fund', '--loglevel=error', ...[...closure].map((n) => packed.get(n).tarball)],
  { cwd: app, timeout: 300_000 },
);
log('installed');

const apiPort = await freePort();
const brokerPort = await freePort();
const prefix = 'check';
// `npx bifrost run` with no config says what to do; `npx bifrost init` writes the starter config
// (simulator -> embedded broker); then only its ports, prefix and rate are changed for this check.
const noConfig = run('npx', ['--no-install', 'bifrost', 'validate'], { cwd: app, allowFail: true });
if (noConfig.status !== 1 || !noConfig.out.includes('bifrost init'))
  die(
    `bifrost validate without a config should exit 1 suggesting bifrost init, got ${noConfig.status}:\n${noConfig.out}`,
  );
run('npx', ['--no-install', 'bifrost', 'init'], { cwd: app });
const starter = readFileSync(join(app, 'bifrost.yaml'), 'utf8');
const edited = starter
  .replace(/^ {2}port: 8080\b/m, `  port: ${apiPort}`)
  .replace(/^ {4}port: 1883\b/m, `    port: ${brokerPort}`)
  .replace(/^(\s+)topic_prefix: bifrost$/m, `$1topic_prefix: ${prefix}`)
  .replace(/^(\s+)interval: 1s$/m, '$1interval: 200ms');
if (edited.split('\n').filter((l, i) => l !== starter.split('\n')[i]).length !== 4)
  die(
    `bifrost init wrote a config this check cannot adapt (port 8080, port 1883, topic_prefix, interval):\n${starter}`,
  );
writeFileSync(join(app, 'bifrost.yaml'), edited);

const validate = run('npx', ['--no-install', 'bifrost', 'validate'], { cwd: app });
if (!/bifrost\.yaml: OK \(1 connector\(s\) enabled, 1 source\(s\)/.test(validate.out))
  die(`bifrost validate said:\n${validate.out}`);
log(`npx bifrost validate: ${validate.out.trim()}`);

// Subscribe with the mqtt.js the user's install brought (the MQTT connector's dependency).
const requireFromApp = createRequire(join(app, 'package.json'));
const mqtt = requireFromApp('mqtt');

let output = '';
gatewayChild = spawn('npx', ['--no-install', 'bifrost', 'run'], {
  cwd: app,
  env: ENV,
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true, // its own process group, so Ctrl-C can be sent to npx and the gateway together
});
gatewayChild.stdout.on('data', (b) => (output += b));
gatewayChild.stderr.on('data', (b) => (output += b));
const exited = new Promise((res) => gatewayChild.on('exit', (code, signal) => res({ code, signal })));

const WANT = 40;
const received = await new Promise((res, rej) => {
  const ids = new Set();
  const deadline = setTimeout(() => rej(new Error(`timeout: ${ids.size} of ${WANT} points in 60s`)), 60_000);
  let client;
  const connect = () => {
    client = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { reconnectPeriod: 200, connectTimeout: 2000 });
    client.on('connect', () => client.subscribe(`${prefix}/#`, { qos: 1 }));
    client.on('error', () => {});
    client.on('message', (_topic, payload) => {
      try {
        const p = JSON.parse(payload.toString());
        if (p.id) ids.add(p.id);
      } catch {
        /* not a point */
      }
      if (ids.size >= WANT) {
        clearTimeout(deadline);
        client.end(true);
        res(ids.size);
      }
    });
  };
  // The broker listens once the gateway started; mqtt.js reconnects until then.
  connect();
  gatewayChild.on('exit', () => {
    clearTimeout(deadline);
    client?.end(true);
    rej(new Error('the gateway exited before the points arrived'));
  });
}).catch((err) => die(`${err.message}\n--- bifrost run output ---\n${output}`));
log(`npx bifrost run: a subscriber on ${prefix}/# received ${received} distinct points`);

// Ctrl-C, as in a terminal: SIGINT to the process group (npx and the gateway under it).
process.kill(-gatewayChild.pid, 'SIGINT');
const stopped = await new Promise((res) => {
  const t = setTimeout(() => res(false), 30_000);
  const check = () => {
    if (/"msg":"stopped"/.test(output)) {
      clearTimeout(t);
      res(true);
    } else setTimeout(check, 100);
  };
  check();
});
await Promise.race([exited, new Promise((res) => setTimeout(res, 5_000))]);
if (!stopped) die(`bifrost run did not shut down cleanly on Ctrl-C (no "stopped" within 30s):\n${output}`);
if (/"level":(50|60)/.test(output)) die(`bifrost run logged an error:\n${output}`);
log('bifrost run stopped cleanly on Ctrl-C');
const hint = `mosquitto_sub -p ${brokerPort} -t '${prefix}/#' -v`;
if (!output.includes(hint)) die(`the startup banner should suggest ${hint}:\n${output}`);

// ---------------------------------------------------------------------------------------------
// 3b. What a plugin author does: npm create bifrost-connector, npm install, npm test (the
// conformance suite against the stand-in peer), npm run build; @bifrost packages from the tarballs.

if (packed.has('create-bifrost-connector')) {
  const authorDir = join(tmp, 'author');
  mkdirSync(authorDir);
  run(
    'npm',
    [
      'exec',
      '--yes',
      `--package=${packed.get('create-bifrost-connector').tarball}`,
      '--',
      'create-bifrost-connector',
      'my-sink',
    ],
    { cwd: authorDir },
  );
  const plugin = join(authorDir, 'my-sink');
  const pluginPkgFile = join(plugin, 'package.json');
  const pluginPkg = JSON.parse(readFileSync(pluginPkgFile, 'utf8'));
  for (const dep of Object.keys(pluginPkg.devDependencies))
    if (packed.has(dep)) pluginPkg.devDependencies[dep] = `file:${packed.get(dep).tarball}`;
  writeFileSync(pluginPkgFile, `${JSON.stringify(pluginPkg, null, 2)}\n`);
  log(`scaffolded ${pluginPkg.name}; npm install`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: plugin, timeout: 300_000 });
  const t = run('npm', ['test'], { cwd: plugin, timeout: 600_000, allowFail: true });
  if (t.status !== 0) die(`the scaffolded connector's tests failed:\n${t.out}`);
  const summary = t.out.match(/Tests\s+.*$/m)?.[0] ?? '';
  if (!/passed/.test(summary) || /failed/.test(summary))
    die(`the scaffolded connector's tests did not pass:\n${t.out}`);
  log(`scaffolded connector: npm test ${summary.replace(/\s+/g, ' ')}`);
  run('npm', ['run', 'typecheck'], { cwd: plugin });
  run('npm', ['run', 'build'], { cwd: plugin });
  if (!existsSync(join(plugin, 'dist', 'index.js'))) die('the scaffolded connector built no dist/index.js');
  log('scaffolded connector: typecheck and build OK');
} else die('create-bifrost-connector was not packed');

// ---------------------------------------------------------------------------------------------
// 4. Lint every tarball: publint (warnings are errors) and Are the Types Wrong (ESM-only packages).

for (const [name, { tarball, pkg }] of packed) {
  const p = run(join(BIN, 'publint'), ['run', tarball, '--strict', '--level', 'warning'], { allowFail: true });
  if (p.status !== 0) failures.push(`publint ${name}:\n${p.out.trim()}`);
  if (!pkg.exports && !pkg.types) continue; // a bin-only package (create-bifrost-connector): no types to check
  const a = run(join(BIN, 'attw'), [tarball, '--profile', 'esm-only', '--format', 'table', '--no-emoji'], {
    allowFail: true,
  });
  if (a.status !== 0) failures.push(`attw ${name}:\n${a.out.trim()}`);
}
if (failures.length) die(failures.join('\n\n'));
log(`publint and attw (--profile esm-only): ${packed.size} tarballs clean`);

// ---------------------------------------------------------------------------------------------
// 5. What `pnpm -r publish` would do.

const pub = run('pnpm', ['-r', 'publish', '--dry-run', '--no-git-checks', '--access', 'public'], { timeout: 600_000 });
const listed = [...packed.keys()].filter((n) => pub.out.includes(n));
if (listed.length !== packed.size)
  die(`pnpm -r publish --dry-run listed ${listed.length} of ${packed.size} packages:\n${pub.out}`);
log(`pnpm -r publish --dry-run: all ${packed.size} packages`);

cleanup(false);
log(`OK in ${((Date.now() - started) / 1000).toFixed(0)}s`);
