import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineConnector, z, type DataPoint } from '../src/index.js';
import { createMemoryQueue, createPipeline, type Pipeline } from '../src/host.js';
import { withAbortableTimeout } from '../src/pipeline/timeout.js';
import { FAST } from './pipeline-fixtures/harness.js';

const points = (n: number): DataPoint[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    deviceId: 'd',
    tagName: 't',
    value: i,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000 + i,
  }));

describe('withAbortableTimeout', () => {
  afterEach(() => vi.useRealTimers());

  it('aborts the call at the timeout and waits for it to end before throwing', async () => {
    vi.useFakeTimers();
    let ended = false;
    const call = withAbortableTimeout(
      (signal) =>
        new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () =>
            setTimeout(() => {
              ended = true;
              reject(new Error('cancelled'));
            }, 10),
          ),
        ),
      { ms: 100, graceMs: 1_000, what: 'write', code: 'X_TIMEOUT' },
    );
    const outcome = call.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(105);
    expect(ended).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    expect(ended).toBe(true);
    expect(await outcome).toMatchObject({ kind: 'transient', code: 'X_TIMEOUT' });
  });

  it('takes an acknowledgement that arrives within the grace period', async () => {
    vi.useFakeTimers();
    const call = withAbortableTimeout(
      (signal) =>
        new Promise<string>((resolve) => signal.addEventListener('abort', () => setTimeout(resolve, 5, 'acked'))),
      { ms: 100, graceMs: 1_000, what: 'write', code: 'X_TIMEOUT' },
    );
    await vi.advanceTimersByTimeAsync(200);
    await expect(call).resolves.toBe('acked');
  });

  it('gives up on a call that ignores its signal after the grace period, and says so', async () => {
    vi.useFakeTimers();
    const onAbandon = vi.fn();
    const call = withAbortableTimeout(() => new Promise(() => undefined), {
      ms: 100,
      graceMs: 50,
      what: 'write',
      code: 'X_TIMEOUT',
      onAbandon,
    });
    const outcome = call.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(151);
    expect(await outcome).toMatchObject({ code: 'X_TIMEOUT' });
    expect(onAbandon).toHaveBeenCalledOnce();
  });
});

describe('the host and write signals', () => {
  let pipeline: Pipeline | undefined;
  afterEach(async () => {
    await pipeline?.stop({ deadlineMs: 200 });
    pipeline = undefined;
  });

  it('never overlaps a timed-out write with its retry: each write of the same points starts after the last one ended', async () => {
    const running = new Set<string>();
    const overlaps: string[] = [];
    let writes = 0;
    const hanging = defineConnector({
      type: 'hang',
      configSchema: z.object({}),
      create: () => ({
        connect: async () => undefined,
        close: async () => undefined,
        write: async (batch, { signal }) => {
          for (const p of batch) if (running.has(p.id)) overlaps.push(p.id);
          for (const p of batch) running.add(p.id);
          try {
            // The first two writes hang until cancelled (and then take 30 ms to unwind); the third succeeds.
            if (++writes <= 2)
              await new Promise((_, reject) =>
                signal.addEventListener('abort', () => setTimeout(() => reject(new Error('cancelled')), 30)),
              );
          } finally {
            for (const p of batch) running.delete(p.id);
          }
        },
      }),
    });
    const queue = createMemoryQueue();
    pipeline = createPipeline({
      queue,
      connectors: [{ name: 'h', definition: hanging, config: {}, delivery: { ...FAST, timeoutMs: 50 } }],
    });
    pipeline.start();
    await pipeline.ingest(points(5));
    await expect.poll(() => queue.stats('h').points, { timeout: 5_000 }).toBe(0);
    expect(writes).toBe(3);
    expect(overlaps).toEqual([]);
  });

  it('aborts writes still running when the stop deadline passes', async () => {
    let aborted = false;
    const stuck = defineConnector({
      type: 'stuck',
      configSchema: z.object({}),
      create: () => ({
        connect: async () => undefined,
        close: async () => undefined,
        write: (_batch, { signal }) =>
          new Promise<void>((_, reject) =>
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(new Error('cancelled'));
            }),
          ),
      }),
    });
    const queue = createMemoryQueue();
    pipeline = createPipeline({
      queue,
      connectors: [{ name: 's', definition: stuck, config: {}, delivery: { ...FAST, timeoutMs: 60_000 } }],
    });
    pipeline.start();
    await pipeline.ingest(points(3));
    await expect.poll(() => queue.stats('s').inFlight, { timeout: 5_000 }).toBe(3);
    const { released } = await pipeline.stop({ deadlineMs: 50 });
    pipeline = undefined;
    expect(aborted).toBe(true);
    expect(released).toEqual({ s: 3 });
    expect(queue.stats('s').points).toBe(3);
  });
});
