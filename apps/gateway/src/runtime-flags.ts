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
const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
const youngGeneration = !given.includes('semi-space');
const compilers = process.argv[2] === 'run' && !/sparkplug|maglev|turbofan|jitless/.test(given);
if (youngGeneration) setFlagsFromString('--semi-space-growth-factor=1');
if (compilers) setFlagsFromString('--no-sparkplug --no-maglev --no-turbofan');

/** Ends the startup settings: the young generation may grow again and the compilers are back on. */
export function leaveStartupMode(): void {
  if (youngGeneration) setFlagsFromString('--semi-space-growth-factor=2');
  if (compilers) setFlagsFromString('--sparkplug --maglev --turbofan');
}
