import { describe, expect, it } from 'vitest';
import { AuthError, defineConnector, PLUGIN_API_VERSION, z } from '../src/index.js';
import { createMemoryQueue, createPipeline, isApiCompatible } from '../src/host.js';
import { FAST } from './pipeline-fixtures/harness.js';

describe('plugin API versions', () => {
  it('accepts the same major version up to the host minor', () => {
    expect(isApiCompatible('2.0.0', '2.3.1')).toBe(true);
    expect(isApiCompatible('2.4.0', '2.3.1')).toBe(false);
    expect(isApiCompatible('1.0.0', '2.0.0')).toBe(false);
    expect(isApiCompatible('3.0.0', '2.0.0')).toBe(false);
    expect(isApiCompatible('garbage', '2.0.0')).toBe(false);
  });

  it('refuses a definition built for another major, naming both versions', () => {
    const def = { ...defineConnector({ type: 'old', configSchema: z.object({}), create: () => ({}) as never }) };
    const old = Object.assign(Object.create(Object.getPrototypeOf(def) as object) as object, def, { api: '1.0.0' });
    expect(() =>
      createPipeline({ queue: createMemoryQueue(), connectors: [{ name: 'o', definition: old, config: {} }] }),
    ).toThrow(new RegExp(`plugin API 1\\.0\\.0.*${PLUGIN_API_VERSION.replace(/\./g, '\\.')}`));
  });
});

describe('breaker reset', () => {
  it('closes an open breaker and delivers at once, without waiting for the reset time', async () => {
    let refuse = true;
    const sink = defineConnector({
      type: 'gate',
      configSchema: z.object({}),
      create: () => ({
        connect: async () => undefined,
        close: async () => undefined,
        write: async () => {
          if (refuse) throw new AuthError('denied');
        },
      }),
    });
    const queue = createMemoryQueue();
    const pipeline = createPipeline({
      queue,
      connectors: [
        {
          name: 'g',
          definition: sink,
          config: {},
          delivery: { ...FAST, breaker: { failureThreshold: 5, resetMs: 600_000 } },
        },
      ],
    });
    pipeline.start();
    await pipeline.ingest([{ id: 'a', deviceId: 'd', tagName: 't', value: 1, quality: 'GOOD', timestamp: 1 }]);
    await expect.poll(() => pipeline.health()[0]?.breaker, { timeout: 5_000 }).toBe('open');
    expect(pipeline.health()[0]?.breakerTrialAt).toBeGreaterThan(Date.now() + 500_000);
    refuse = false;
    pipeline.resetBreaker('g');
    await expect.poll(() => queue.stats('g').points, { timeout: 5_000 }).toBe(0);
    expect(pipeline.health()[0]?.breaker).toBe('closed');
    expect(() => pipeline.resetBreaker('nope')).toThrow(/unknown connector "nope"/);
    await pipeline.stop({ deadlineMs: 100 });
  });
});
