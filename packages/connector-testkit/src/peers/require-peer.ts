import { INSTALL_HINT } from './binaries.js';

/** What a peer check found: the binary path (or any description of the installation) or why it is missing. */
export type PeerCheck<T> = T | undefined | null | false | { missing: string };

/** Whether a peer's binaries are installed; gate its tests with `describe.skipIf(!req.available)`. */
export interface PeerRequirement<T> {
  readonly name: string;
  readonly available: boolean;
  /** What the check returned (e.g. the binary path) when available. */
  readonly found: T | undefined;
  /** Why it is not available, with the install hint. */
  readonly reason: string | undefined;
}

function isMissing(value: unknown): value is { missing: string } {
  return typeof value === 'object' && value !== null && 'missing' in value && typeof value.missing === 'string';
}

/**
 * Checks that a peer can run. When it cannot: outside CI it logs
 * `[testkit] skipping <name> tests: <why>; install with: bash scripts/install-peers.sh` and returns
 * `available: false` (use `describe.skipIf(!req.available)` or `it.skipIf`); with `CI=true` it
 * throws that message, failing the test file, because CI must never pass by skipping.
 *
 * @example
 * const mosquitto = requirePeer('mosquitto', () => findBinary('mosquitto'));
 * describe.skipIf(!mosquitto.available)('mqtt on mosquitto', () => { ... });
 */
export function requirePeer<T>(name: string, check: () => PeerCheck<T>): PeerRequirement<T> {
  let result: PeerCheck<T>;
  try {
    result = check();
  } catch (err) {
    result = { missing: (err as Error).message };
  }
  if (result !== undefined && result !== null && result !== false && !isMissing(result)) {
    return { name, available: true, found: result, reason: undefined };
  }
  const why = isMissing(result) ? result.missing : `${name} is not installed`;
  const reason = why.includes(INSTALL_HINT) ? why : `${why}; ${INSTALL_HINT}`;
  if (isCi()) throw new Error(`[testkit] ${name} is required in CI: ${reason}`);
  process.stderr.write(`[testkit] skipping ${name} tests: ${reason}\n`);
  return { name, available: false, found: undefined, reason };
}

/** True when `CI` is set to anything but `false`/`0`/empty (GitHub Actions, GitLab and `.ci/run` set `CI=true`). */
export function isCi(): boolean {
  const ci = process.env.CI;
  return !!ci && ci !== 'false' && ci !== '0';
}
