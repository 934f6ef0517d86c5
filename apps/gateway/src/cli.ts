#!/usr/bin/env node
// The `bifrost` command. Process-wide settings come first: an ESM import graph is loaded whole
// before any of it runs, so the commands (and everything they import) are imported only after them.
import { deferUnusedBuiltins } from './deferred-builtins.js';
import { mallocTunablesEnv } from './malloc-tunables.js';
import { reexecution } from './runtime-flags.js';

const tunedEnv = mallocTunablesEnv(process.argv, process.env);
if (tunedEnv) {
  const { execArgv, env } = reexecution(tunedEnv);
  try {
    process.execve?.(process.execPath, [process.execPath, ...execArgv, ...process.argv.slice(1)], env);
  } catch (err) {
    // Only memory is at stake: run on with glibc's defaults.
    process.stderr.write(
      `[bifrost] could not re-execute with GLIBC_TUNABLES (${(err as Error).message}); running with glibc's allocator defaults\n`,
    );
  }
}
deferUnusedBuiltins();
await import('./commands.js');
