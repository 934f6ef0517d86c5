import { defineSource, type Emit, type Source, type SourceDefinition } from '@bifrost/core';
import { buildStreams } from './devices.js';
import { Scheduler, type SimulatorStats } from './scheduler.js';
import { simulatorConfigSchema } from './schema.js';

export { simulatorConfigSchema, tagSchema, deviceSchema, qualitySchema, DEFAULT_TEMPLATE } from './schema.js';
export type { SimulatorConfig, SimulatorConfigInput, DeviceConfig, TagConfig, QualityConfig } from './schema.js';
export type { SimulatorStats } from './scheduler.js';

/** A running simulator: a {@link Source} that also reports what it produced and skipped. */
export interface SimulatorSource extends Source {
  /** Devices and tags simulated, and the nominal points per second of all of them together. */
  readonly devices: number;
  readonly tags: number;
  readonly pointsPerSecond: number;
  stats(): SimulatorStats;
}

/**
 * `type: simulator`: virtual industrial devices for demos, tests and load generation. Each tag of
 * each device produces samples from its generator (sine, random walk, step, counter, toggle, alarm
 * bursts) at its own rate, with optional jitter and BAD / UNCERTAIN quality flips; due samples are
 * emitted once per `tick` as one batch.
 */
// Typed through the schema module, so the declaration file names no zod import of its own.
const simulator: SourceDefinition<typeof simulatorConfigSchema> = defineSource({
  type: 'simulator',
  configSchema: simulatorConfigSchema,
  create(config, ctx): SimulatorSource {
    const seed = config.seed ?? Math.floor(Math.random() * 2 ** 32);
    const streams = buildStreams(config, seed);
    const scheduler = new Scheduler(streams, {
      tickMs: Math.max(1, config.tick),
      maxBatch: config.max_batch,
      logger: ctx.logger,
    });
    const devices = new Set(streams.map((s) => s.deviceId)).size;
    const pointsPerSecond = streams.reduce((sum, s) => sum + 1000 / s.intervalMs, 0);
    const onAbort = () => void scheduler.stop();
    return {
      devices,
      tags: streams.length,
      pointsPerSecond,
      start(emit: Emit) {
        if (ctx.signal.aborted) return Promise.resolve();
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        scheduler.start(emit);
        ctx.logger.info(
          { devices, tags: streams.length, pointsPerSecond: Math.round(pointsPerSecond), seed },
          'simulator started',
        );
        return Promise.resolve();
      },
      async stop() {
        ctx.signal.removeEventListener('abort', onAbort);
        await scheduler.stop();
        ctx.logger.info(scheduler.stats(), 'simulator stopped');
      },
      stats: () => scheduler.stats(),
    };
  },
});

export default simulator;
