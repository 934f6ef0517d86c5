import { afterAll, beforeAll, describe, it } from 'vitest';
import { ALL_SCENARIOS } from './scenarios/index.js';
import type { ConnectorUnderTest, Scenario, ScenarioContext } from './types.js';

/** Thrown by `ScenarioContext.skip` outside vitest (see {@link runScenario}). */
export class ScenarioSkipped extends Error {
  constructor(
    readonly scenario: string,
    readonly reason: string,
  ) {
    super(`[conformance] ${scenario} skipped: ${reason}`);
    this.name = 'ScenarioSkipped';
  }
}

/**
 * Runs one scenario against a started peer, then its cleanups (last registered first, even on
 * failure). `skip` defaults to throwing {@link ScenarioSkipped}; inside a vitest test pass the test
 * context's `skip` so it is reported as skipped.
 *
 * @example
 * it('send-1000', (t) => runScenario(sendThousand, target, peer, { skip: t.skip }), sendThousand.timeoutMs);
 */
export async function runScenario<P>(
  scenario: Scenario,
  target: ConnectorUnderTest<P>,
  peer: P,
  opts: { skip?: (reason: string) => never; log?: (message: string) => void } = {},
): Promise<void> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const ctx: ScenarioContext<P> = {
    target,
    peer,
    skip:
      opts.skip ??
      ((reason) => {
        throw new ScenarioSkipped(scenario.name, reason);
      }),
    defer: (fn) => {
      cleanups.push(fn);
    },
    log:
      opts.log ?? ((message) => process.stdout.write(`[conformance] ${target.name} / ${scenario.name}: ${message}\n`)),
  };
  try {
    await scenario.run(ctx);
  } finally {
    const errors: unknown[] = [];
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length)
      process.stderr.write(
        `[conformance] ${scenario.name}: ${errors.length} cleanup error(s): ${errors.map(String).join('; ')}\n`,
      );
  }
}

/**
 * The conformance suite every connector must pass (DESIGN §9): registers one vitest test per
 * scenario against a real peer started once for the suite. Scenarios the target cannot run
 * (no TLS variant, no restart control, no poison factory, no fault proxy) are reported as skipped
 * with the reason. Pick scenarios with `target.scenarios` (names) or pass your own list.
 *
 * @example
 * describeConnector({
 *   name: 'mqtt on mosquitto',
 *   plugin: mqtt,
 *   peer: () => startMosquitto(...),
 *   dispose: (p) => p.stop(),
 *   config: (p, v) => v.kind === 'plain' ? { config: { endpoint: p.url } } : undefined,
 *   readBack: (p) => subscribeAll(p.url),
 * });
 */
export function describeConnector<P>(
  target: ConnectorUnderTest<P>,
  scenarios: readonly Scenario[] = ALL_SCENARIOS,
): void {
  const chosen = target.scenarios ? scenarios.filter((s) => target.scenarios!.includes(s.name)) : scenarios;
  const unknown = target.scenarios?.filter((n) => !scenarios.some((s) => s.name === n)) ?? [];
  if (unknown.length)
    throw new Error(
      `[conformance] unknown scenario name(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`,
    );

  const gate = target.requires && !target.requires.available;
  const title = `conformance: ${target.name}${gate ? ` (skipped: ${target.requires!.reason ?? 'peer not installed'})` : ''}`;
  describe.skipIf(gate)(title, () => {
    let peer: P | undefined;
    beforeAll(async () => {
      peer = await target.peer();
    });
    afterAll(async () => {
      if (peer !== undefined) await target.dispose(peer);
    });
    for (const scenario of chosen) {
      it(
        scenario.name,
        async (t) => {
          if (peer === undefined) throw new Error('[conformance] the peer did not start');
          await runScenario(scenario, target, peer, { skip: (reason) => t.skip(reason) });
        },
        scenario.timeoutMs,
      );
    }
  });
}
