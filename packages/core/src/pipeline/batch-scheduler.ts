import type { Logger } from '../plugin.js';
import type { DurableQueue, Lease } from '../queue/types.js';
import { batchNumberer, fittingPrefix, type BatchLimits } from './batch-limits.js';
import type { ConnectorBreaker } from './breaker.js';
import { createStreams, streamOf, type DeviceStream } from './device-streams.js';
import { LeaseHandle } from './lease-handle.js';
import type { DeliveryOptions } from './types.js';
import { sleep, type Wakeup } from './wakeup.js';

/** How often an idle loop re-reads the queue even without a wake-up (points replayed by an operator). */
export const IDLE_RECHECK_MS = 1_000;

export interface BatchSchedulerDeps {
  name: string;
  queue: DurableQueue;
  logger: Logger;
  options: DeliveryOptions;
  limits: BatchLimits;
  breaker: ConnectorBreaker;
  wake: Wakeup;
  /** Aborted when the runner stops: no new leases. */
  stopping: AbortSignal;
  /** No new attempt before this time (epoch ms): the runner's current backoff. */
  pauseUntil(): number;
  /** Writes one batch until it is acked, dead-lettered or handed back. */
  deliver(handle: LeaseHandle): Promise<void>;
  /** The connector needs each device's points in order (`ordering: 'per-device'`). */
  perDeviceOrder: boolean;
}

/**
 * Decides when to lease and which batch goes next for one connector: waits for a full batch or the
 * flush interval, keeps `maxInFlight` batches in flight, leases the next batch ahead while all
 * slots are busy, cuts leases to the connector's count and byte limits, and, for per-device order,
 * keeps one batch in flight per device stream. Batches leased ahead are given back in their place
 * whenever an older batch hands points back, so older points always go first.
 */
export class BatchScheduler {
  /** Every leased batch being delivered, until its lease is settled (stop drains these). */
  readonly workers = new Map<LeaseHandle, Promise<void>>();
  /**
   * Batches whose write is under way or being retried: what `maxInFlight` limits. A batch leaves
   * this set once the remote side acknowledged it, before its ack is committed to the queue.
   */
  private readonly writing = new Set<LeaseHandle>();
  /** The next batch, leased while all slots were busy so the queue work overlaps the network wait. */
  private prefetched: LeaseHandle | undefined;
  /** Bumped whenever a prefetched batch is given back; a prefetch lease resolving after that is given back too. */
  private prefetchEpoch = 0;
  /** Enqueue time of the oldest point the next (partial) batch is waiting to fill up with. */
  private partialSince: number | undefined;
  /** Per-device order with more than one batch in flight: one stream per slot (else undefined). */
  private readonly streams: DeviceStream[] | undefined;
  /** Points per lease: `maxPoints`, lowered to what fits `maxBytes` by the sizes seen so far. */
  private leaseSize: number;

  constructor(private readonly deps: BatchSchedulerDeps) {
    const slots = deps.options.maxInFlight;
    if (deps.perDeviceOrder && slots > 1) this.streams = createStreams(slots);
    this.leaseSize = deps.limits.maxPoints;
  }

  /** The delivery loop; resolves after `stopping` is aborted and what was leased ahead is given back. */
  run(): Promise<void> {
    return this.streams ? this.dispatchByDevice(this.streams) : this.dispatch();
  }

  /** The remote side acknowledged a batch: its slot, and its stream, may take the next batch. */
  writeDone(handle: LeaseHandle): void {
    if (!this.writing.delete(handle)) return;
    if (handle.stream?.writing === handle) handle.stream.writing = undefined;
    this.deps.wake.notify();
  }

  /**
   * Before a batch hands points back: gives back the batches leased after it for the same devices
   * (the prefetched one, or those waiting behind its stream), so the older points go first again.
   * The releases take effect in the queue when called; callers release the batch itself in the
   * same turn, before awaiting, so no lease can take the newer points without the older ones.
   */
  dropAhead(handle: LeaseHandle): Promise<void> {
    return handle.stream ? this.dropStream(handle.stream) : this.dropPrefetched();
  }

  private get stopped(): boolean {
    return this.deps.stopping.aborted;
  }

  private get batchSize(): number {
    return this.deps.limits.maxPoints;
  }

  private async dispatch(): Promise<void> {
    const { maxInFlight } = this.deps.options;
    while (!this.stopped) {
      const now = Date.now();
      const limit = this.deps.breaker.state === 'closed' ? maxInFlight : 1;
      if (this.writing.size >= limit) {
        if (!this.prefetched && this.canPrefetch(now)) await this.prefetch();
        else await this.deps.wake.wait(IDLE_RECHECK_MS);
        continue;
      }
      if (await this.waitWhileHeld(now)) continue;
      let handle = this.prefetched;
      this.prefetched = undefined;
      if (!handle) {
        if (!(await this.batchDue(now))) continue;
        handle = await this.leaseBatch();
        if (!handle) continue;
      }
      if (this.stopped) {
        await handle.release();
        break;
      }
      this.launch(handle);
    }
    await this.dropPrefetched();
  }

  /**
   * Per-device order with several batches in flight: devices are hashed onto `maxInFlight`
   * streams, each writing one batch at a time. A lease of up to `maxInFlight` batches is split by
   * stream (and into batches within the limits), and each part waits for its stream.
   */
  private async dispatchByDevice(streams: DeviceStream[]): Promise<void> {
    const { batchSize } = this;
    while (!this.stopped) {
      const now = Date.now();
      if (await this.waitWhileHeld(now)) continue;
      this.startStreams(streams);
      let waiting = 0;
      for (const s of streams) for (const h of s.waiting) waiting += h.lease.points.length;
      if (waiting >= batchSize * streams.length) {
        await this.deps.wake.wait(IDLE_RECHECK_MS);
        continue;
      }
      if (!(await this.batchDue(now))) continue;
      const epochs = streams.map((s) => s.epoch);
      const lease = await this.leaseRaw(batchSize * streams.length);
      if (lease) await this.distribute(lease, streams, epochs);
    }
    await this.dropWaiting();
  }

  /**
   * While the backoff or the breaker holds delivery back: gives back what was leased ahead and
   * waits (for the pause to end, or the breaker's trial). Returns false when delivery may go on.
   */
  private async waitWhileHeld(now: number): Promise<boolean> {
    const pauseUntil = this.deps.pauseUntil();
    if (now < pauseUntil) {
      await this.dropWaiting();
      await this.deps.wake.wait(pauseUntil - now);
      return true;
    }
    if (!this.deps.breaker.admits(now)) {
      await this.dropWaiting();
      const trialAt = this.deps.breaker.trialAt;
      await this.deps.wake.wait(trialAt > now ? trialAt - now : IDLE_RECHECK_MS);
      return true;
    }
    return false;
  }

  /**
   * Whether to lease now: a full batch is visible, or the oldest visible point has waited
   * `flushIntervalMs` (a partial batch waits for more, but no point waits longer than that in all).
   * Otherwise waits for points or for that deadline and returns false.
   */
  private async batchDue(now: number): Promise<boolean> {
    const { flushIntervalMs } = this.deps.options;
    const visible = this.available();
    if (visible <= 0) {
      this.partialSince = undefined;
      await this.deps.wake.wait(IDLE_RECHECK_MS);
      return false;
    }
    this.partialSince ??= this.oldestQueuedAt(now);
    if (visible < this.leaseSize && now < this.partialSince + flushIntervalMs) {
      await this.deps.wake.wait(this.partialSince + flushIntervalMs - now);
      return false;
    }
    this.partialSince = undefined;
    return true;
  }

  /** Splits a lease by stream into batches within the limits and queues each behind its stream. */
  private async distribute(lease: Lease, streams: DeviceStream[], epochs: readonly number[]): Promise<void> {
    const n = streams.length;
    const numberers = streams.map(() => batchNumberer(this.deps.limits));
    const perStream = lease.points.length;
    let parts: Lease[];
    try {
      parts = this.deps.queue.split(lease, (p) => {
        const s = streamOf(p.deviceId, n);
        return s * perStream + (numberers[s]?.(p) ?? 0);
      });
    } catch (err) {
      this.deps.logger.error({ err }, 'could not split a leased batch by device; giving it back');
      await new LeaseHandle(lease, this.deps.queue, this.deps.logger).release();
      return;
    }
    for (const part of parts) {
      const first = part.points[0];
      const stream = first && streams[streamOf(first.deviceId, n)];
      const handle = new LeaseHandle(part, this.deps.queue, this.deps.logger);
      if (!stream) {
        await handle.release();
        continue;
      }
      handle.stream = stream;
      // The stream gave points back while this lease was taken: these newer points must not go first.
      if (this.stopped || stream.epoch !== epochs[streams.indexOf(stream)]) await handle.release();
      else stream.waiting.push(handle);
    }
  }

  /** Starts the next batch of every idle stream (only one write at a time unless the breaker is closed). */
  private startStreams(streams: DeviceStream[]): void {
    const limit = this.deps.breaker.state === 'closed' ? streams.length : 1;
    for (const s of streams) {
      if (this.writing.size >= limit) return;
      const next = s.writing ? undefined : s.waiting.shift();
      if (!next) continue;
      s.writing = next;
      this.launch(next);
    }
  }

  /** Gives back every batch leased ahead: the prefetched one, or those waiting behind streams (pause, open breaker, stop). */
  private async dropWaiting(): Promise<void> {
    if (!this.streams) return this.dropPrefetched();
    for (const s of this.streams) await this.dropStream(s);
  }

  private async dropStream(stream: DeviceStream): Promise<void> {
    stream.epoch++;
    await Promise.all(stream.waiting.splice(0).map((handle) => handle.release()));
  }

  private launch(handle: LeaseHandle): void {
    this.writing.add(handle);
    this.workers.set(
      handle,
      this.deps.deliver(handle).finally(() => {
        this.writeDone(handle);
        this.workers.delete(handle);
        this.deps.wake.notify();
      }),
    );
  }

  /**
   * Whether to lease the next batch while every slot is busy: only a full batch (a backlog, where
   * throughput matters; a partial one keeps waiting to fill), and only while delivery is going well.
   */
  private canPrefetch(now: number): boolean {
    return this.deps.breaker.state === 'closed' && now >= this.deps.pauseUntil() && this.available() >= this.leaseSize;
  }

  private async prefetch(): Promise<void> {
    const epoch = this.prefetchEpoch;
    const handle = await this.leaseBatch();
    if (!handle) return;
    // A batch in flight was handed back meanwhile: these newer points must not go before it.
    if (epoch !== this.prefetchEpoch || this.stopped) await handle.release();
    else this.prefetched = handle;
  }

  /**
   * Gives the prefetched batch back to the queue (unattempted, in its place). Called before a batch
   * in flight hands points back, so that those older points are leased again first (per-device
   * order) and nothing is leased twice.
   */
  private async dropPrefetched(): Promise<void> {
    this.prefetchEpoch++;
    const handle = this.prefetched;
    this.prefetched = undefined;
    if (handle) await handle.release();
  }

  /**
   * Leases one batch within the connector's limits. Points past the byte limit are given back in
   * their place at once, and later leases take fewer points (sized by the bytes seen so far).
   */
  private async leaseBatch(): Promise<LeaseHandle | undefined> {
    const lease = await this.leaseRaw(this.leaseSize);
    if (!lease) return undefined;
    const fit = fittingPrefix(lease.points, this.deps.limits);
    this.adaptLeaseSize(lease, fit);
    if (fit >= lease.points.length) return new LeaseHandle(lease, this.deps.queue, this.deps.logger);
    let parts: Lease[];
    try {
      parts = this.deps.queue.split(lease, (_, i) => (i < fit ? 0 : 1));
    } catch (err) {
      this.deps.logger.error({ err }, 'could not cut a leased batch to the byte limit; giving it back');
      await new LeaseHandle(lease, this.deps.queue, this.deps.logger).release();
      return undefined;
    }
    const [head, ...tail] = parts.map((part) => new LeaseHandle(part, this.deps.queue, this.deps.logger));
    await Promise.all(tail.map((handle) => handle.release()));
    return head;
  }

  /** With a byte limit: lease about as many points as fit it (what fit this time, plus a margin). */
  private adaptLeaseSize(lease: Lease, fit: number): void {
    if (this.deps.limits.maxBytes === undefined) return;
    const sized = fit < lease.points.length ? fit : Math.ceil(fit * 1.25) + 1;
    this.leaseSize = Math.max(1, Math.min(this.batchSize, sized));
  }

  private async leaseRaw(max: number): Promise<Lease | null> {
    try {
      return await this.deps.queue.lease(this.deps.name, max);
    } catch (err) {
      this.deps.logger.error({ err }, 'could not lease from the queue; retrying');
      await sleep(IDLE_RECHECK_MS, this.deps.stopping);
      return null;
    }
  }

  /** Points queued and not leased. */
  private available(): number {
    const s = this.deps.queue.stats(this.deps.name);
    return s.points - s.inFlight;
  }

  /** Enqueue time of the oldest queued point (it may be in flight); `fallback` when unknown. */
  private oldestQueuedAt(fallback: number): number {
    return Math.min(this.deps.queue.stats(this.deps.name).oldestEnqueuedAt ?? fallback, fallback);
  }
}
