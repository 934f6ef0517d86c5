import { beforeEach } from 'vitest';

/** Anything with output worth showing when a test fails. */
export interface HasLogs {
  readonly name: string;
  logs(maxLines?: number): string;
}

/**
 * Prints the recent output of the given peers when a test in the current `describe` fails. Pass a
 * function because peers are usually started in `beforeAll`, after this is registered.
 *
 * @example
 * let broker: MosquittoPeer;
 * beforeAll(async () => { broker = await startMosquitto(); });
 * showPeerLogsOnFailure(() => [broker]);
 */
export function showPeerLogsOnFailure(peers: () => ReadonlyArray<HasLogs | undefined>): void {
  beforeEach(({ onTestFailed, task }) => {
    onTestFailed(() => {
      for (const peer of peers()) {
        if (!peer) continue;
        process.stderr.write(`\n[testkit] ${task.name} failed; last output of ${peer.name}:\n${peer.logs(120)}\n`);
      }
    });
  });
}
