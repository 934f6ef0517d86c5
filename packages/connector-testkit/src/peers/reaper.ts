import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Prefix of every peer's temporary directory under `os.tmpdir()`. */
export const PEER_DIR_PREFIX = 'bifrost-peer-';
const OWNER_FILE = '.bifrost-peer-owner.json';

interface Owner {
  /** The test process that started the peer. */
  owner: number;
  /** Process group of the server (its leader's pid), while it runs. */
  group?: number;
}

/** Process groups and directories of this process's peers, reaped when it exits. */
const live = new Map<string, Owner>();
let hooked = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function reapAllSync(): void {
  for (const [dir, { group }] of live) {
    if (group) killGroup(group);
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}

/** A signal skips 'exit' handlers: reap, then die of the signal unless someone else handles it. */
function onSignal(signal: NodeJS.Signals): void {
  reapAllSync();
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * Removes what crashed test runs left: peer directories whose owning process is gone, after
 * killing the server group recorded there. Directories of live processes (parallel runs) are kept.
 */
export function reapOrphans(): void {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(PEER_DIR_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = join(tmpdir(), entry);
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Owner;
    } catch {
      continue; // being created right now, or not ours
    }
    if (alive(owner.owner)) continue;
    if (owner.group) killGroup(owner.group);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Records a peer directory (and later its server's process group) so that it is killed and removed
 * when this process exits, even if a test forgot to dispose it or crashed.
 */
export function track(dir: string, group?: number): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', reapAllSync);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => onSignal(signal));
  }
  const entry: Owner = { owner: process.pid, ...(group ? { group } : {}) };
  live.set(dir, entry);
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(entry));
}

/** Forgets a peer directory that was disposed of properly. */
export function untrack(dir: string): void {
  live.delete(dir);
}
