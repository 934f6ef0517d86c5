import { expect } from 'vitest';
import { createConnector, noCancel, openCollector } from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { Scenario } from '../types.js';

/** connect/close in any order and any number of times; reconnecting on a live connection works. */
export const connectCloseIdempotent: Scenario = {
  name: 'connect-close-idempotent',
  description:
    'close before connect, connect twice, close twice, reconnect after close: all succeed and the connector still delivers',
  timeoutMs: 30_000,
  async run(ctx) {
    const collector = await openCollector(ctx);
    const connector = createConnector(ctx, { kind: 'plain' });
    await connector.close();
    await connector.connect();
    await connector.connect();
    if (connector.healthCheck) expect((await connector.healthCheck()).ok, 'healthy after connect').toBe(true);
    const first = makePoints(3, 'idem');
    await connector.write(first, noCancel());
    await connector.close();
    await connector.close();
    if (connector.healthCheck) expect((await connector.healthCheck()).ok, 'unhealthy after close').toBe(false);
    const afterClose = await connector.write(makePoints(1, 'idem'), noCancel()).then(
      () => 'resolved',
      () => 'rejected',
    );
    expect(afterClose, 'write after close must fail, not pretend success').toBe('rejected');
    await connector.connect();
    const second = makePoints(3, 'idem');
    await connector.write(second, noCancel());
    await expectDelivered(collector, [...first, ...second], 10_000, ctx.target.capabilities);
  },
};
