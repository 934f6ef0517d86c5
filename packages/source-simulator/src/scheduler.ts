import type { DataPoint, Emit, Logger } from '@bifrost/core';
import type { TagStream } from './devices.js';
import { symmetric } from './random.js';

/** Counters of a running simulator. */
export interface SimulatorStats {
  /** Ticks run. */
  ticks: number;
  /** Points whose `emit` call resolved (durably queued by the gateway). */
  emitted: number;
  /**
   * Samples never generated because `emit` was slower than the schedule: when a tag falls more
   * than two ticks behind, its oldest due samples are skipped so memory stays bounded.
   */
  skipped: number;
  /** Ticks that started late because the previous batch was still being emitted. */
  lateTicks: number;
  /** `emit` calls that threw, and the points they carried. */
  emitErrors: number;
  failed: number;
}

export interface SchedulerOptions {
  tickMs: number;
  maxBatch: number;
  logger?: Logger;
}

type SimPoint = Parameters<Emit>[0][number];

const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Samples every stream on a fixed tick and hands each tick's samples to `emit` as one batch (split
 * at `maxBatch`), awaiting it before the next tick: a slow `emit` slows the simulator down instead of
 * piling points up in memory. Samples carry their scheduled time as `timestamp`, so batching does
 * not distort the timeline.
 */
export class Scheduler {
  private readonly next: Float64Array;
  /** Most samples one stream may produce in one tick: two ticks' worth. */
  private readonly cap: Uint32Array;
  private readonly counters: SimulatorStats = {
    ticks: 0,
    emitted: 0,
    skipped: 0,
    lateTicks: 0,
    emitErrors: 0,
    failed: 0,
  };
  private stopped = false;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private lastErrorLog = 0;

  constructor(
    private readonly streams: readonly TagStream[],
    private readonly opts: SchedulerOptions,
  ) {
    this.next = new Float64Array(streams.length);
    this.cap = new Uint32Array(streams.map((s) => Math.max(1, Math.ceil((2 * opts.tickMs) / s.intervalMs))));
  }

  /** Starts ticking; returns at once. */
  start(emit: Emit): void {
    if (this.loop) throw new Error('[bifrost] [simulator] already started');
    const now = Date.now();
    // Spread first samples over one interval so tags of equal rate do not all fire on the same tick.
    this.streams.forEach((s, i) => {
      this.next[i] = now + s.random() * s.intervalMs;
    });
    this.loop = this.run(emit, now);
  }

  /** Stops ticking; resolves once the batch being emitted (if any) has settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }

  stats(): SimulatorStats {
    return { ...this.counters };
  }

  private async run(emit: Emit, start: number): Promise<void> {
    const { tickMs, maxBatch } = this.opts;
    let tickAt = start;
    while (!this.stopped) {
      const batch = this.collect(Date.now());
      this.counters.ticks++;
      for (let i = 0; i < batch.length; i += maxBatch) {
        if (this.stopped) {
          this.counters.skipped += batch.length - i;
          break;
        }
        const chunk = batch.length <= maxBatch ? batch : batch.slice(i, i + maxBatch);
        try {
          await emit(chunk);
          this.counters.emitted += chunk.length;
        } catch (e) {
          this.counters.emitErrors++;
          this.counters.failed += chunk.length;
          this.logEmitError(e);
        }
      }
      tickAt += tickMs;
      const now = Date.now();
      if (now > tickAt) {
        this.counters.lateTicks++;
        tickAt = now;
      }
      await this.sleep(tickAt - now);
    }
  }

  /** The samples due by `now`, oldest skipped beyond each stream's cap. */
  private collect(now: number): SimPoint[] {
    const out: SimPoint[] = [];
    const { streams, next, cap } = this;
    // Hot path (every tick): next and cap are parallel to streams, hence the `!`s.
    for (let i = 0; i < streams.length; i++) {
      let at = next[i]!;
      if (at > now) continue;
      const s = streams[i]!;
      const limit = cap[i]!;
      const backlog = Math.floor((now - at) / s.intervalMs) + 1;
      if (backlog > limit) {
        const skip = backlog - limit;
        this.counters.skipped += skip;
        at += skip * s.intervalMs;
      }
      for (let k = 0; at <= now && k < limit; k++) {
        out.push(this.sample(s, at));
        at += s.jitterMs ? s.intervalMs + s.jitterMs * symmetric(s.random) : s.intervalMs;
      }
      if (at <= now) {
        // Jitter made a few more due than the cap allows; drop them rather than exceed it.
        const skip = Math.floor((now - at) / s.intervalMs) + 1;
        this.counters.skipped += skip;
        at += skip * s.intervalMs;
      }
      next[i] = at;
    }
    return out;
  }

  private sample(s: TagStream, at: number): SimPoint {
    const { value, quality: forced } = s.generate(at);
    let quality = forced ?? 'GOOD';
    if (forced === undefined && (s.bad > 0 || s.uncertain > 0)) {
      const r = s.random();
      if (r < s.bad) quality = 'BAD';
      else if (r < s.bad + s.uncertain) quality = 'UNCERTAIN';
    }
    const p: Partial<DataPoint> & SimPoint = {
      deviceId: s.deviceId,
      tagName: s.tagName,
      value,
      quality,
      timestamp: Math.floor(at),
    };
    if (s.unit !== undefined) p.unit = s.unit;
    if (s.tags !== undefined) p.tags = s.tags;
    if (s.priority !== undefined) p.priority = s.priority;
    return p;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      this.wake = resolve;
      this.timer = setTimeout(resolve, Math.max(0, ms));
    });
  }

  private logEmitError(err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog = now;
    this.opts.logger?.warn(
      { err, emitErrors: this.counters.emitErrors, failedPoints: this.counters.failed },
      'emit failed; the simulator keeps going (these points are not retried)',
    );
  }
}
