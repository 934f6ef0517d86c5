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

interface Probe {
  /** Whether a hot function was optimized before `leaveStartupMode()`. */
  before: boolean;
  /** Whether a hot function was optimized after it. */
  after: boolean;
  /** `reexecution({})` in that process. */
  reexec: { execArgv: string[]; env: Record<string, string> };
  /** The re-execution's marker as the process's own code sees it. */
  marker: string | null;
}

/**
 * Runs a fresh node with the module loaded first, as `bifrost` does, and the given command word
 * (and node flags and environment, as a re-execution would have them).
 */
function probe(command: string, nodeFlags: string[] = [], env: Record<string, string> = {}): Probe {
  const script = join(dir, 'probe.mjs');
  const module = pathToFileURL(join(import.meta.dirname, '../src/runtime-flags.ts')).href;
  writeFileSync(
    script,
    `const { leaveStartupMode, reexecution } = await import(${JSON.stringify(module)});
const marker = process.env.BIFROST_REEXEC_V8_FLAGS ?? null;
const heat = (f) => { for (let i = 0; i < 200000; i++) f(i); return (%GetOptimizationStatus(f) & ${OPTIMIZED}) !== 0; };
const before = heat((x) => (x * 31) % 7);
leaveStartupMode();
const after = heat((x) => (x * 37) % 11);
console.log(JSON.stringify({ before, after, reexec: reexecution({}), marker }));`,
  );
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', ...nodeFlags, script, command], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return JSON.parse(out) as Probe;
}

describe('runtime flags', () => {
  it('bifrost run starts without the optimizing compilers and has them once it leaves startup', () => {
    expect(probe('run')).toMatchObject({ before: false, after: true });
  });

  it('bifrost run re-executes with Maglev off from the start, marked so the new process knows the flag for its own', () => {
    const first = probe('run');
    expect(first.reexec).toEqual({
      execArgv: ['--no-maglev', '--allow-natives-syntax'],
      env: { BIFROST_REEXEC_V8_FLAGS: '--no-maglev' },
    });
    // As re-executed: the compilers are still managed (taken for the user's flag, they would be left
    // on from the start), and the marker is not passed on.
    const again = probe('run', first.reexec.execArgv.slice(0, 1), first.reexec.env);
    expect(again).toMatchObject({ before: false, after: true, marker: null });
  });

  it("the user's compiler flags win: no re-execution flags, no startup settings", () => {
    expect(probe('run', ['--maglev'])).toMatchObject({
      before: true,
      reexec: { execArgv: ['--allow-natives-syntax', '--maglev'], env: {} },
    });
  });

  it('other commands keep the compilers throughout', () => {
    expect(probe('validate')).toMatchObject({ before: true, after: true, reexec: { env: {} } });
  });
});
