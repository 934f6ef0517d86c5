import { batchSizeOf, createConnector, openCollector, writeInBatches } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { Scenario, ScenarioContext } from '../types.js';

async function sendAndReadBack<P>(ctx: ScenarioContext<P>, count: number, label: string): Promise<void> {
  const collector = await openCollector(ctx);
  const connector = createConnector(ctx, { kind: 'plain' });
  await connector.connect();
  const points = makePoints(count, label);
  const started = performance.now();
  await writeInBatches(connector, points, batchSizeOf(ctx));
  const writeMs = performance.now() - started;
  await expectDelivered(collector, points, Math.max(10_000, count / 2), ctx.target.capabilities);
  ctx.log(
    `${count} points written in ${writeMs.toFixed(0)} ms (${Math.round(count / (writeMs / 1000))} points/s), all read back`,
  );
}

/** One point, read back by id with equal values. */
export const sendOne: Scenario = {
  name: 'send-1',
  description: 'one point is acknowledged and read back by id with equal values',
  timeoutMs: 30_000,
  run: (ctx) => sendAndReadBack(ctx, 1, 'one'),
};

/** 1,000 points in batches, every one read back. */
export const sendThousand: Scenario = {
  name: 'send-1000',
  description: '1,000 points in batches are all read back by id with equal values',
  timeoutMs: 60_000,
  run: (ctx) => sendAndReadBack(ctx, 1_000, 'k'),
};

/** 100,000 points (or the author's `largeCount`), every one read back. */
export const sendLarge: Scenario = {
  name: 'send-100000',
  description: '100,000 points in batches are all read back by id with equal values',
  timeoutMs: 150_000,
  run: (ctx) => sendAndReadBack(ctx, ctx.target.capabilities?.largeCount ?? 100_000, 'large'),
};

/** Several writers share one connector at once. */
export const parallelWriters: Scenario = {
  name: 'parallel-writers',
  description: '4 concurrent writers on one connector, 2,500 points each: every point read back',
  timeoutMs: 60_000,
  async run(ctx) {
    const collector = await openCollector(ctx);
    const connector = createConnector(ctx, { kind: 'plain' });
    await connector.connect();
    const size = Math.min(batchSizeOf(ctx), 250);
    const sets = Array.from({ length: 4 }, (_, w) => makePoints(2_500, `par${w}`));
    await Promise.all(sets.map((points) => writeInBatches(connector, points, size)));
    await expectDelivered(collector, sets.flat(), 20_000, ctx.target.capabilities);
  },
};
