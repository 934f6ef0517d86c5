import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The command that installs every peer binary; quoted in skip messages and errors. */
export const INSTALL_HINT = 'install with: bash scripts/install-peers.sh';

/**
 * Where `scripts/peers/*.sh` put what they build or download (Toxiproxy, pstest, Kafka jars):
 * `$BIFROST_PEERS_DIR`, default `~/.cache/bifrost-peers`.
 */
export function peersDir(): string {
  return process.env.BIFROST_PEERS_DIR ?? join(homedir(), '.cache', 'bifrost-peers');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian keeps some server binaries off PATH; these are searched after PATH. */
const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/lib/rabbitmq/bin'];

/**
 * Finds an executable: `$<env>` when set (an explicit path wins and must exist), else PATH, the
 * `bin` dir of {@link peersDir}, `/usr/sbin` and friends, then `extraDirs`. Returns the absolute
 * path or `undefined`.
 *
 * @example findBinary('mosquitto', { env: 'BIFROST_MOSQUITTO' })
 */
export function findBinary(
  name: string,
  opts: { env?: string; extraDirs?: readonly string[] } = {},
): string | undefined {
  const explicit = opts.env ? process.env[opts.env] : undefined;
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    join(peersDir(), 'bin'),
    ...SYSTEM_DIRS,
    ...(opts.extraDirs ?? []),
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The PostgreSQL server programs directory (`postgres`, `initdb`, `pg_ctl`): `$BIFROST_PG_BIN`, or
 * the newest `/usr/lib/postgresql/<version>/bin` (Debian), or the dir of `pg_config --bindir`.
 */
export function postgresBinDir(): string | undefined {
  const explicit = process.env.BIFROST_PG_BIN;
  if (explicit) return existsSync(join(explicit, 'postgres')) ? explicit : undefined;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => isExecutable(join(root, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = pgConfig.status === 0 ? pgConfig.stdout.trim() : '';
  return dir && isExecutable(join(dir, 'postgres')) ? dir : undefined;
}

/** The error a `start<Peer>()` throws when its binary is missing. */
export function binaryNotFound(what: string): Error {
  return new Error(`[testkit] ${what} not found; ${INSTALL_HINT}`);
}
