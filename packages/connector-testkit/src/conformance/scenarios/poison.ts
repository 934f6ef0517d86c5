import { expect } from 'vitest';
import { metricsOf, openCollector, startDelivery } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { Scenario } from '../types.js';
import { drained } from './resilience.js';

/** A point the sink refuses goes to the dead-letter table with its reason; its neighbours are delivered. */
export const poisonToDeadLetter: Scenario = {
  name: 'poison-dead-letter',
  description: 'a poison point lands in the dead-letter table with its reason while the points around it are delivered',
  timeoutMs: 30_000,
  async run(ctx) {
    const factory = ctx.target.poison;
    if (!factory) return ctx.skip('no poison() point factory: the sink accepts any point');
    const collector = await openCollector(ctx);
    const d = await startDelivery(ctx, { kind: 'plain' });
    const before = makePoints(20, 'poison-a');
    const after = makePoints(20, 'poison-b');
    const poison = factory();
    await d.ingest([...before, poison, ...after]);
    await drained(d, 20_000);
    await expectDelivered(collector, [...before, ...after], 10_000, ctx.target.capabilities);
    const dead = await d.queue.listDeadLetters({ connector: d.name });
    expect(
      dead.map((e) => e.point.id),
      'dead-lettered ids',
    ).toEqual([poison.id]);
    const [entry] = dead;
    if (!entry) throw new Error('[conformance] the poison point was not dead-lettered');
    expect(entry.reason.length, 'a reason is recorded').toBeGreaterThan(0);
    expect(entry.code).toMatch(/^BIFROST_ERR_/);
    expect(metricsOf(d).deadLettered).toBe(1);
    ctx.log(`dead letter: ${entry.code}: ${entry.reason}`);
  },
};
