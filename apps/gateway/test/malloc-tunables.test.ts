import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALLOC_TUNABLES, mallocTunablesEnv } from '../src/malloc-tunables.js';
import { apiOnlyConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');
const glibc = Boolean(
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime,
);

describe('glibc allocator settings of bifrost run', () => {
  it('are asked for by `run` only, and never over GLIBC_TUNABLES already set', () => {
    const argv = (cmd: string) => ['node', 'cli.js', cmd, '-c', 'x.yaml'];
    const env = { PATH: '/bin' };
    expect(mallocTunablesEnv(argv('validate'), env)).toBeUndefined();
    expect(mallocTunablesEnv(argv('run'), { ...env, GLIBC_TUNABLES: '' })).toBeUndefined();
    const tuned = mallocTunablesEnv(argv('run'), env);
    if (process.platform === 'linux' && glibc) expect(tuned).toEqual({ ...env, GLIBC_TUNABLES: MALLOC_TUNABLES });
    else expect(tuned).toBeUndefined();
  });

  it.runIf(process.platform === 'linux' && glibc)(
    'the running gateway is the same process (same pid) with the settings in its environment',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bifrost-malloc-'));
      const port = await freePort();
      const config = join(dir, 'gateway.yaml');
      writeFileSync(config, apiOnlyConfig(port));
      const env = { ...process.env };
      delete env.GLIBC_TUNABLES;
      const child = spawn(process.execPath, [CLI, 'run', '-c', config], { stdio: 'ignore', env });
      try {
        await waitUntil(
          'gateway ready',
          () =>
            fetch(`http://127.0.0.1:${port}/ready`).then(
              (r) => r.ok,
              () => false,
            ),
          30_000,
        );
        // glibc rewrites the variable in place when it reads it: the first setting is what shows.
        const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
        expect(environ.find((v) => v.startsWith('GLIBC_TUNABLES='))).toMatch(/^GLIBC_TUNABLES=glibc\.malloc\./);
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
