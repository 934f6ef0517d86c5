import { setFlagsFromString } from 'node:v8';

// Imported first by the `bifrost` command, before any other module is evaluated, to make startup
// (module loading, config parsing: code that runs once) cheap in memory, then undone once the
// gateway is up. Settings given on the command line or in NODE_OPTIONS win over each of these.
// - The young generation is held at its initial size: startup would grow it to its maximum, which an
//   idle gateway never needs (about 10 MB of idle RSS). Held there for good, though, a loaded gateway
//   collects it every ~1,700 points (about 900 scavenges and a fifth of its CPU for 1.5M points at
//   200k points/s).
// - For `bifrost run`, V8's compilers beyond the interpreter (Sparkplug, Maglev, TurboFan) are off:
//   run-once code gains nothing from them, and their first use brings their machine code into memory
//   (5-8 MB of the node binary's pages that an idle gateway never touches). Under load they are on as
//   usual; the other commands (a queue salvage can be long) keep them throughout.

/** The environment variable that tells this module which of its flags a re-execution added itself. */
const REEXEC_FLAGS_VAR = 'BIFROST_REEXEC_V8_FLAGS';

/**
 * V8 flags `bifrost run` re-executes itself with (cli.ts) when it manages the compilers: Maglev off
 * from the start of the process, not only from this module's first line. Enabled when V8 starts, it
 * keeps about 2.4 MB more of the node binary's pages resident for good, even when it is turned off
 * before any of the gateway's code runs (idle RSS 75 → 73 MB); started off and turned on by
 * {@link leaveStartupMode}, it optimizes as usual.
 */
const REEXEC_FLAGS = ['--no-maglev'];

/** The node flags the user gave: the command line without what a re-execution added, and NODE_OPTIONS. */
function userFlags(): string {
  const args = [...process.execArgv];
  if (process.env[REEXEC_FLAGS_VAR] === REEXEC_FLAGS.join(' ')) {
    for (const flag of REEXEC_FLAGS) {
      const at = args.indexOf(flag);
      if (at >= 0) args.splice(at, 1);
    }
    // Not inherited by processes the gateway starts.
    delete process.env[REEXEC_FLAGS_VAR];
  }
  return `${args.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
}

const given = userFlags();
const youngGeneration = !given.includes('semi-space');
const compilers = process.argv[2] === 'run' && !/sparkplug|maglev|turbofan|jitless/.test(given);
if (youngGeneration) setFlagsFromString('--semi-space-growth-factor=1');
if (compilers) setFlagsFromString('--no-sparkplug --no-maglev --no-turbofan');

/** Ends the startup settings: the young generation may grow again and the compilers are back on. */
export function leaveStartupMode(): void {
  if (youngGeneration) setFlagsFromString('--semi-space-growth-factor=2');
  if (compilers) setFlagsFromString('--sparkplug --maglev --turbofan');
}

/**
 * The node flags and environment for re-executing this process (the same command), with
 * {@link REEXEC_FLAGS} added when this module manages the compilers, and marked as its own so the
 * new process does not take them for the user's.
 */
export function reexecution(env: NodeJS.ProcessEnv): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  if (!compilers) return { execArgv: process.execArgv, env };
  return {
    execArgv: [...REEXEC_FLAGS, ...process.execArgv],
    env: { ...env, [REEXEC_FLAGS_VAR]: REEXEC_FLAGS.join(' ') },
  };
}
