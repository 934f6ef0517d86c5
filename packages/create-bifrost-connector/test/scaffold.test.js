import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const BIN = join(import.meta.dirname, '..', 'bin', 'index.js');

test('scaffolds a package with its type, name and no placeholders left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'create-bifrost-'));
  try {
    execFileSync(process.execPath, [BIN, 'bifrost-connector-web-hook'], { cwd: dir });
    const root = join(dir, 'bifrost-connector-web-hook');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.name, 'bifrost-connector-web-hook');
    assert.deepEqual(pkg.bifrost, { role: 'connector', type: 'web-hook', api: '^2' });
    assert.ok(pkg.keywords.includes('bifrost-connector'));
    assert.ok(pkg.peerDependencies['@bifrost/core'].startsWith('^'));
    assert.ok(existsSync(join(root, '.gitignore')));
    for (const f of ['src/index.ts', 'src/config.ts', 'README.md', 'test/conformance.test.ts', 'test/local-peer.ts'])
      assert.doesNotMatch(readFileSync(join(root, f), 'utf8'), /__[A-Z_]+__/, f);
    assert.match(readFileSync(join(root, 'src/index.ts'), 'utf8'), /type: 'web-hook'/);
    assert.match(readFileSync(join(root, 'src/config.ts'), 'utf8'), /WebHookConfig/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refuses a non-empty directory and takes --type and --name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'create-bifrost-'));
  try {
    mkdirSync(join(dir, 'full'));
    writeFileSync(join(dir, 'full', 'x'), '');
    assert.throws(
      () => execFileSync(process.execPath, [BIN, 'full'], { cwd: dir, stdio: 'pipe' }),
      /not an empty directory/,
    );
    execFileSync(process.execPath, [BIN, 'hooks', '--type', 'webhook', '--name', '@acme/bifrost-connector-webhook'], {
      cwd: dir,
    });
    const pkg = JSON.parse(readFileSync(join(dir, 'hooks', 'package.json'), 'utf8'));
    assert.equal(pkg.name, '@acme/bifrost-connector-webhook');
    assert.equal(pkg.bifrost.type, 'webhook');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
