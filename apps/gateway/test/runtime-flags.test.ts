import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** V8's `%GetOptimizationStatus` bit for a function running optimized code. */
const OPTIMIZED = 1 << 4;

const dir = mkdtempSync(join(tmpdir(), 'bifrost-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs a fresh node with the module loaded first, as `bifrost` does, and the given command word:
 * whether a hot function was optimized before and after `leaveStartupMode()`.
 */
function optimizedBeforeAndAfter(command: string): { before: boolean; after: boolean } {
  const script = join(dir, 'probe.mjs');
  const module = pathToFileURL(join(import.meta.dirname, '../src/runtime-flags.ts')).href;
  writeFileSync(
    script,
    `const { leaveStartupMode } = await import(${JSON.stringify(module)});
const heat = (f) => { for (let i = 0; i < 200000; i++) f(i); return (%GetOptimizationStatus(f) & ${OPTIMIZED}) !== 0; };
const before = heat((x) => (x * 31) % 7);
leaveStartupMode();
const after = heat((x) => (x * 37) % 11);
console.log(JSON.stringify({ before, after }));`,
  );
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', script, command], { encoding: 'utf8' });
  return JSON.parse(out) as { before: boolean; after: boolean };
}

describe('runtime flags', () => {
  it('bifrost run starts without the optimizing compilers and has them once it leaves startup', () => {
    expect(optimizedBeforeAndAfter('run')).toEqual({ before: false, after: true });
  });

  it('other commands keep the compilers throughout', () => {
    expect(optimizedBeforeAndAfter('validate')).toEqual({ before: true, after: true });
  });
});
