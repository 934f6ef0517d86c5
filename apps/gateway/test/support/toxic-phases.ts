// Every fault Toxiproxy can put on a link, one after another, for the degraded-link tests.
import type { Toxic, ToxicOptions, ToxiproxyProxy } from '@bifrost/connector-testkit';

/** One phase: a toxic held on the proxy for a while, or the proxy disabled (`down`). */
export type ToxicPhase = { label: string } & ({ toxic: Toxic; options?: ToxicOptions } | { down: true });

/**
 * Every toxic the proof covers, in the order they run. "Upstream" is the gateway's writes to the
 * peer, "downstream" the peer's answers (acks).
 */
export const EVERY_TOXIC: readonly ToxicPhase[] = [
  { label: 'latency 300±200 ms', toxic: { type: 'latency', attributes: { latency: 300, jitter: 200 } } },
  {
    label: 'bandwidth 16 KB/s',
    toxic: { type: 'bandwidth', attributes: { rate: 16 } },
    options: { stream: 'upstream' },
  },
  {
    label: 'black hole (timeout 0)',
    toxic: { type: 'timeout', attributes: { timeout: 0 } },
    options: { stream: 'upstream' },
  },
  {
    label: 'timeout 1.5 s then close',
    toxic: { type: 'timeout', attributes: { timeout: 1_500 } },
    options: { stream: 'upstream' },
  },
  {
    label: 'reset_peer after 500 ms',
    toxic: { type: 'reset_peer', attributes: { timeout: 500 } },
    options: { stream: 'upstream' },
  },
  { label: 'down', down: true },
  {
    label: 'limit_data 32 KB per connection',
    toxic: { type: 'limit_data', attributes: { bytes: 32_768 } },
    options: { stream: 'upstream' },
  },
  {
    label: 'slicer 16±8 B packets',
    toxic: { type: 'slicer', attributes: { average_size: 16, size_variation: 8, delay: 50 } },
    options: { stream: 'upstream' },
  },
];

/**
 * Runs `phases` on `proxy` from `startAt` (epoch ms), each for `phaseMs`, the link healthy before
 * the first and after the last. Resolves when the last phase is lifted.
 */
export async function runToxicPhases(
  proxy: ToxiproxyProxy,
  phases: readonly ToxicPhase[],
  startAt: number,
  phaseMs: number,
): Promise<void> {
  for (const [i, phase] of phases.entries()) {
    await sleepUntil(startAt + i * phaseMs);
    if ('down' in phase) {
      await proxy.disable();
      await sleepUntil(startAt + (i + 1) * phaseMs);
      await proxy.enable();
    } else {
      const name = await proxy.addToxic(phase.toxic, phase.options);
      await sleepUntil(startAt + (i + 1) * phaseMs);
      await proxy.removeToxic(name);
    }
  }
}

/** The phases as one line for logs and the proof table. */
export const describePhases = (phases: readonly ToxicPhase[]): string => phases.map((p) => p.label).join(', ');

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
