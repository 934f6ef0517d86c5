import { isBrokenCircuitError } from 'cockatiel';
import { CapacityError, PartialWriteError, PayloadError, classifyError, type BifrostError } from '../errors.js';
import type { Connector, Logger, WriteReceipt } from '../plugin.js';
import type { DurableQueue, Lease, LeaseOutcome } from '../queue/types.js';
import type { PipelineMetrics } from '../metrics/pipeline-metrics.js';
import { RetrySchedule } from './backoff.js';
import { ConnectorBreaker } from './breaker.js';
import { HealthTracker } from './health-tracker.js';
import { planPoison } from './settle-plan.js';
import { withTimeout } from './timeout.js';
import type { ConnectorHealth, DeliveryOptions } from './types.js';
import { Wakeup, sleep } from './wakeup.js';

/** How often an idle loop re-reads the queue even without a wake-up (points replayed by an operator). */
const IDLE_RECHECK_MS = 1_000;

/** Timeout codes the host puts on calls it gave up waiting for. */
export const WRITE_TIMEOUT_CODE = 'BIFROST_ERR_WRITE_TIMEOUT';
export const CONNECT_TIMEOUT_CODE = 'BIFROST_ERR_CONNECT_TIMEOUT';
export const HEALTH_CHECK_TIMEOUT_CODE = 'BIFROST_ERR_HEALTH_CHECK_TIMEOUT';

/** Running totals of one connector since the pipeline started (the JSON metrics snapshot). */
export interface ConnectorTotals {
  /** Points handed to the connector's lane since start (a full `drop_*` lane may have dropped some: `dropped`). */
  ingested: number;
  /** Points the remote side acknowledged. */
  sent: number;
  /** Points in failed write attempts (a point retried three times counts three times). */
  failed: number;
  /** Writes that re-sent points written before: in-place retries, and leases of points handed back after an earlier attempt. */
  retries: number;
  deadLettered: number;
  dropped: number;
  batches: number;
  failedBatches: number;
}

export interface ConnectorRunnerDeps {
  name: string;
  type: string;
  connector: Connector;
  options: DeliveryOptions;
  queue: DurableQueue;
  metrics: PipelineMetrics;
  logger: Logger;
  /** Aborted after the connector is asked to close (the plugin's `ctx.signal`). */
  closeSignal: AbortController;
  /** The connector needs each device's points in order (`ordering: 'per-device'`). */
  perDeviceOrder: boolean;
}

/** Payload bytes from a connector's {@link WriteReceipt}, when it returned one. */
function receiptBytes(receipt: unknown): number | undefined {
  const bytes = (receipt as WriteReceipt | undefined)?.bytes;
  return typeof bytes === 'number' && Number.isFinite(bytes) && bytes >= 0 ? bytes : undefined;
}

/** A lease settled at most once: a late write result after a timeout or a forced stop is ignored. */
class LeaseHandle {
  private settled = false;
  /** Set when a write of these points starts: from then on a release counts as a delivery attempt. */
  written = false;
  /** The per-device stream the batch belongs to, when the runner keeps order with several in flight. */
  stream?: DeviceStream;
  constructor(
    readonly lease: Lease,
    private readonly queue: DurableQueue,
    private readonly logger: Logger,
  ) {}

  get open(): boolean {
    return !this.settled;
  }

  /** Returns false when the lease was already settled (nothing done). */
  async settle(outcome: LeaseOutcome): Promise<boolean> {
    if (this.settled) return false;
    this.settled = true;
    try {
      await this.queue.settle(this.lease, outcome);
      return true;
    } catch (err) {
      // Nothing of the outcome was applied: the points stay queued and are delivered again (at-least-once).
      this.logger.error({ err, lease: this.lease.id }, 'could not settle a lease; its points stay queued');
      return false;
    }
  }

  /** Hands the points back to the queue (their attempt count grows only if they were written). */
  release(): Promise<boolean> {
    return this.settle({ acked: [], attempted: this.written });
  }
}

/**
 * One of the per-device streams: the devices hashed to it are written one batch at a time, in
 * queue order, as Kafka keeps order per partition.
 */
interface DeviceStream {
  /** The batch being written, until the remote side acknowledged it. */
  writing: LeaseHandle | undefined;
  /** Leased batches of this stream's devices, in queue order, behind `writing`. */
  waiting: LeaseHandle[];
  /** Bumped when the stream gives points back: a lease taken before then may hold newer points of its devices. */
  epoch: number;
}

/** The stream of a device (FNV-1a of its id): a device always maps to the same stream. */
function streamOf(deviceId: string, streams: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) h = Math.imul(h ^ deviceId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % streams;
}

type Attempt =
  | { ok: true; durationMs: number; bytes?: number }
  | { ok: false; error: BifrostError; phase: 'connect' | 'write'; durationMs?: number }
  | { ok: false; error: 'breaker-open' };

/**
 * Delivers one connector's lane: leases batches, writes them with a timeout through the breaker,
 * settles each lease exactly once, retries with backoff, reconnects, probes health, and drains on
 * stop. One runner per connector, so a connector that is down never slows the others.
 */
export class ConnectorRunner {
  readonly label: string;
  readonly health: HealthTracker;
  readonly breaker: ConnectorBreaker;
  readonly totals: ConnectorTotals = {
    ingested: 0,
    sent: 0,
    failed: 0,
    retries: 0,
    deadLettered: 0,
    dropped: 0,
    batches: 0,
    failedBatches: 0,
  };

  private readonly retry: RetrySchedule;
  private readonly wake = new Wakeup();
  private readonly stopping = new AbortController();
  /** Every leased batch being delivered, until its lease is settled (stop drains these). */
  private readonly workers = new Map<LeaseHandle, Promise<void>>();
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
  private readonly labels: { connector: string; type: string };
  /** No new attempt before this time (epoch ms): the current backoff. */
  private pauseUntil = 0;
  /** Bumped by each failure that advanced the backoff; concurrent failures of the same outage share one step. */
  private failureGeneration = 0;
  private connecting: Promise<void> | undefined;
  private dispatcher: Promise<void> | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** The health tick in progress, if any (stop waits for it before closing the connector). */
  private healthRun: Promise<void> | undefined;

  constructor(private readonly deps: ConnectorRunnerDeps) {
    this.label = `${deps.type}:${deps.name}`;
    this.labels = { connector: deps.name, type: deps.type };
    this.health = new HealthTracker(deps.name, deps.type);
    this.retry = new RetrySchedule(deps.options.retry);
    this.breaker = new ConnectorBreaker(deps.options.breaker, (state) => {
      const log = state === 'closed' ? deps.logger.info : deps.logger.warn;
      log.call(deps.logger, { breaker: state }, `circuit breaker ${state}`);
      this.wake.notify();
    });
    deps.metrics.initConnector(deps.name, deps.type);
    const slots = deps.options.maxInFlight;
    if (deps.perDeviceOrder && slots > 1)
      this.streams = Array.from({ length: slots }, () => ({ writing: undefined, waiting: [], epoch: 0 }));
  }

  get name(): string {
    return this.deps.name;
  }

  /** Connects in the background and starts the delivery loop and the periodic health check. */
  start(): void {
    void this.connectThroughBreaker();
    const loop = this.streams ? this.dispatchByDevice(this.streams) : this.dispatch();
    this.dispatcher = loop.catch((err) => this.deps.logger.error({ err }, 'delivery loop crashed'));
    this.healthTimer = setInterval(() => {
      this.healthRun ??= this.checkHealth().finally(() => {
        this.healthRun = undefined;
      });
    }, this.deps.options.healthCheckIntervalMs);
    this.healthTimer.unref();
  }

  /** New points were queued for this connector: wake the loop (no polling delay). */
  notify(): void {
    this.wake.notify();
  }

  /**
   * An operator's reset: closes an open breaker, ends the retry pause and wakes the loop.
   * False when the breaker was not open.
   */
  resetBreaker(): boolean {
    if (!this.breaker.reset()) return false;
    this.pauseUntil = 0;
    this.wake.notify();
    return true;
  }

  /**
   * Stops leasing, lets in-flight batches (and a running health check) finish until `deadlineMs`,
   * releases what is still leased (it stays queued for the next start), then closes the connector
   * (waiting at most `timeoutMs` for `close()`).
   * Returns how many points were released unfinished.
   */
  async stop(deadlineMs: number): Promise<number> {
    this.stopping.abort();
    clearInterval(this.healthTimer);
    this.wake.notify();
    await this.dispatcher;
    const deadline = new AbortController();
    const drained = await Promise.race([
      Promise.allSettled([...this.workers.values(), this.healthRun]).then(() => true),
      sleep(deadlineMs, deadline.signal).then(() => false),
    ]);
    deadline.abort();
    let released = 0;
    if (!drained) {
      for (const handle of this.workers.keys()) {
        if (await handle.release()) released += handle.lease.points.length;
      }
      this.deps.logger.warn({ released }, 'stop deadline passed; unfinished batches stay queued');
    }
    this.deps.closeSignal.abort();
    try {
      await withTimeout(() => this.deps.connector.close(), this.deps.options.timeoutMs, 'close', CONNECT_TIMEOUT_CODE);
    } catch (err) {
      this.deps.logger.warn({ err }, 'connector did not close cleanly');
    }
    this.health.connected = false;
    return released;
  }

  /** Health as served on `/api/cloud/health`. */
  snapshotHealth(): ConnectorHealth {
    const q = this.deps.queue.health();
    return this.health.snapshot({
      breaker: this.breaker.state,
      queueProblem: q.ok ? undefined : (q.reason ?? 'storage error'),
    });
  }

  /** Counts points queued for this connector and points its full lane dropped (old or new ones). */
  countIngested(queued: number, dropped: number): void {
    this.totals.ingested += queued;
    this.deps.metrics.ingested.inc(this.labels, queued);
    if (dropped) {
      this.totals.dropped += dropped;
      this.deps.metrics.dropped.inc(this.labels, dropped);
    }
  }

  /** Counts points the queue moved to the dead-letter table on its own (TTL expiry). */
  countDeadLettered(n: number, code: string): void {
    this.totals.deadLettered += n;
    this.deps.metrics.deadLettered.inc({ ...this.labels, code }, n);
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
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

  private async dispatch(): Promise<void> {
    const { batchSize, maxInFlight } = this.deps.options;
    while (!this.stopped) {
      const now = Date.now();
      const limit = this.breaker.state === 'closed' ? maxInFlight : 1;
      if (this.writing.size >= limit) {
        if (!this.prefetched && this.canPrefetch(now, batchSize)) await this.prefetch(batchSize);
        else await this.wake.wait(IDLE_RECHECK_MS);
        continue;
      }
      if (await this.waitWhileHeld(now)) continue;
      let handle = this.prefetched;
      this.prefetched = undefined;
      if (!handle) {
        if (!(await this.batchDue(now))) continue;
        const lease = await this.leaseBatch(batchSize);
        if (!lease) continue;
        handle = new LeaseHandle(lease, this.deps.queue, this.deps.logger);
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
   * stream (and into batches of at most `batchSize`), and each part waits for its stream.
   */
  private async dispatchByDevice(streams: DeviceStream[]): Promise<void> {
    const { batchSize } = this.deps.options;
    while (!this.stopped) {
      const now = Date.now();
      if (await this.waitWhileHeld(now)) continue;
      this.startStreams(streams);
      let waiting = 0;
      for (const s of streams) for (const h of s.waiting) waiting += h.lease.points.length;
      if (waiting >= batchSize * streams.length) {
        await this.wake.wait(IDLE_RECHECK_MS);
        continue;
      }
      if (!(await this.batchDue(now))) continue;
      const epochs = streams.map((s) => s.epoch);
      const lease = await this.leaseBatch(batchSize * streams.length);
      if (lease) await this.distribute(lease, streams, epochs);
    }
    await this.dropWaiting();
  }

  /**
   * While the backoff or the breaker holds delivery back: gives back what was leased ahead and
   * waits (for the pause to end, or the breaker's trial). Returns false when delivery may go on.
   */
  private async waitWhileHeld(now: number): Promise<boolean> {
    if (now < this.pauseUntil) {
      await this.dropWaiting();
      await this.wake.wait(this.pauseUntil - now);
      return true;
    }
    if (!this.breaker.admits(now)) {
      await this.dropWaiting();
      const trialAt = this.breaker.trialAt;
      await this.wake.wait(trialAt > now ? trialAt - now : IDLE_RECHECK_MS);
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
    const { batchSize, flushIntervalMs } = this.deps.options;
    const visible = this.available();
    if (visible <= 0) {
      this.partialSince = undefined;
      await this.wake.wait(IDLE_RECHECK_MS);
      return false;
    }
    this.partialSince ??= this.oldestQueuedAt(now);
    if (visible < batchSize && now < this.partialSince + flushIntervalMs) {
      await this.wake.wait(this.partialSince + flushIntervalMs - now);
      return false;
    }
    this.partialSince = undefined;
    return true;
  }

  /** Splits a lease by stream into batches of at most `batchSize` and queues each behind its stream. */
  private async distribute(lease: Lease, streams: DeviceStream[], epochs: readonly number[]): Promise<void> {
    const { batchSize } = this.deps.options;
    const n = streams.length;
    const taken = new Array<number>(n).fill(0);
    const perStream = Math.ceil(lease.points.length / batchSize);
    let parts: Lease[];
    try {
      parts = this.deps.queue.split(lease, (p) => {
        const s = streamOf(p.deviceId, n);
        return s * perStream + Math.floor(taken[s]++ / batchSize);
      });
    } catch (err) {
      this.deps.logger.error({ err }, 'could not split a leased batch by device; giving it back');
      await new LeaseHandle(lease, this.deps.queue, this.deps.logger).release();
      return;
    }
    for (const part of parts) {
      const s = streamOf(part.points[0]!.deviceId, n);
      const handle = new LeaseHandle(part, this.deps.queue, this.deps.logger);
      handle.stream = streams[s];
      // The stream gave points back while this lease was taken: these newer points must not go first.
      if (this.stopped || streams[s]!.epoch !== epochs[s]) await handle.release();
      else streams[s]!.waiting.push(handle);
    }
  }

  /** Starts the next batch of every idle stream (only one write at a time unless the breaker is closed). */
  private startStreams(streams: DeviceStream[]): void {
    const limit = this.breaker.state === 'closed' ? streams.length : 1;
    for (const s of streams) {
      if (this.writing.size >= limit) return;
      if (s.writing || !s.waiting.length) continue;
      s.writing = s.waiting.shift();
      this.launch(s.writing!);
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

  /**
   * Before a batch hands points back: gives back the batches leased after it for the same devices
   * (the prefetched one, or those waiting behind its stream), so the older points go first again.
   * The releases take effect in the queue when called; callers release the batch itself in the
   * same turn, before awaiting, so no lease can take the newer points without the older ones.
   */
  private dropAhead(handle: LeaseHandle): Promise<void> {
    return handle.stream ? this.dropStream(handle.stream) : this.dropPrefetched();
  }

  private launch(handle: LeaseHandle): void {
    this.writing.add(handle);
    this.workers.set(
      handle,
      this.deliver(handle).finally(() => {
        this.writeDone(handle);
        this.workers.delete(handle);
        this.wake.notify();
      }),
    );
  }

  /**
   * Whether to lease the next batch while every slot is busy: only a full batch (a backlog, where
   * throughput matters; a partial one keeps waiting to fill), and only while delivery is going well.
   */
  private canPrefetch(now: number, batchSize: number): boolean {
    return this.breaker.state === 'closed' && now >= this.pauseUntil && this.available() >= batchSize;
  }

  private async prefetch(batchSize: number): Promise<void> {
    const epoch = this.prefetchEpoch;
    const lease = await this.leaseBatch(batchSize);
    if (!lease) return;
    const handle = new LeaseHandle(lease, this.deps.queue, this.deps.logger);
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

  /** The batch's write is over (acknowledged): its slot, and its stream, may take the next batch. */
  private writeDone(handle: LeaseHandle): void {
    if (!this.writing.delete(handle)) return;
    if (handle.stream?.writing === handle) handle.stream.writing = undefined;
    this.wake.notify();
  }

  private async leaseBatch(max: number): Promise<Lease | null> {
    try {
      return await this.deps.queue.lease(this.deps.name, max);
    } catch (err) {
      this.deps.logger.error({ err }, 'could not lease from the queue; retrying');
      await sleep(IDLE_RECHECK_MS, this.stopping.signal);
      return null;
    }
  }

  /** Writes one leased batch until it is acked, dead-lettered or handed back to the queue. */
  private async deliver(handle: LeaseHandle): Promise<void> {
    const { points } = handle.lease;
    const { maxElapsedMs } = this.deps.options.retry;
    const firstTryAt = Date.now();
    for (;;) {
      const generation = this.failureGeneration;
      const attempt = await this.attempt(handle);
      if (!handle.open) return; // released by a stop deadline meanwhile
      if (attempt.ok) {
        await this.acked(handle, attempt.durationMs, attempt.bytes);
        return;
      }
      if (attempt.error === 'breaker-open') {
        await this.handBack(handle);
        return;
      }
      const err = attempt.error;
      if (err instanceof PayloadError || err instanceof PartialWriteError) {
        await this.poisoned(handle, err, attempt.durationMs);
        return;
      }
      this.failed(err, attempt.phase, points.length, generation);
      // A timed-out write may still be running: hand its points back rather than race it.
      const handBack = err.code === WRITE_TIMEOUT_CODE || err.kind === 'auth' || err.kind === 'config';
      const tooLong = maxElapsedMs > 0 && Date.now() - firstTryAt >= maxElapsedMs;
      if (handBack || tooLong || this.stopped || this.breaker.state !== 'closed') {
        await this.handBack(handle);
        return;
      }
      await sleep(this.pauseUntil - Date.now(), this.stopping.signal);
      if (this.stopped || this.breaker.state !== 'closed') {
        await this.handBack(handle);
        return;
      }
    }
  }

  /** Gives a batch back to the queue after the ones leased behind it, so its older points are leased first again. */
  private async handBack(handle: LeaseHandle): Promise<void> {
    await Promise.all([this.dropAhead(handle), handle.release()]);
  }

  /**
   * One connect-if-needed plus write, through the breaker and under the write timeout. A write of
   * points that were written before (an in-place retry, or a lease of points handed back to the
   * queue after an earlier attempt) counts as a retry.
   */
  private async attempt(handle: LeaseHandle): Promise<Attempt> {
    const { points } = handle.lease;
    let writeStartedAt = 0;
    try {
      const receipt: unknown = await this.breaker.execute(async () => {
        await this.ensureConnected();
        if (handle.written || handle.lease.attempts > 0) {
          this.totals.retries++;
          this.deps.metrics.retries.inc(this.labels);
        }
        handle.written = true;
        writeStartedAt = performance.now();
        try {
          return await withTimeout(
            () => this.deps.connector.write(points),
            this.deps.options.timeoutMs,
            `write of ${points.length} point(s)`,
            WRITE_TIMEOUT_CODE,
          );
        } catch (err) {
          throw classifyError(err, this.label);
        }
      });
      return { ok: true, durationMs: performance.now() - writeStartedAt, bytes: receiptBytes(receipt) };
    } catch (err) {
      if (isBrokenCircuitError(err)) return { ok: false, error: 'breaker-open' };
      const error = classifyError(err, this.label);
      if (!writeStartedAt) return { ok: false, error, phase: 'connect' };
      return { ok: false, error, phase: 'write', durationMs: performance.now() - writeStartedAt };
    }
  }

  private async acked(handle: LeaseHandle, durationMs: number, bytes?: number): Promise<void> {
    const n = handle.lease.points.length;
    this.retry.reset();
    this.health.writeSucceeded(durationMs, Date.now(), bytes);
    const committed = handle.settle({ acked: 'all' });
    // The remote side has these points: the next batch may be written while the ack is committed
    // (should the commit fail, they are sent again: at-least-once).
    this.writeDone(handle);
    if (!(await committed)) return;
    if (bytes !== undefined) this.deps.metrics.bytesSent.inc(this.labels, bytes);
    this.totals.sent += n;
    this.totals.batches++;
    this.deps.metrics.sent.inc(this.labels, n);
    this.deps.metrics.batches.inc({ ...this.labels, result: 'success' });
    this.deps.metrics.responseTime.observe(this.labels, durationMs / 1000);
  }

  /** The remote side answered but refused some points: ack the accepted, dead-letter the poison. */
  private async poisoned(
    handle: LeaseHandle,
    err: PayloadError | PartialWriteError,
    durationMs?: number,
  ): Promise<void> {
    const plan = planPoison(handle.lease.points, err);
    const dropped = plan.released ? this.dropAhead(handle) : undefined;
    const settled = await handle.settle(plan.outcome);
    await dropped;
    if (!settled) return;
    this.deps.logger.warn(
      { code: err.code, deadLettered: plan.deadLettered, acked: plan.acked, released: plan.released },
      err.message,
    );
    this.retry.reset();
    if (durationMs !== undefined) this.health.writeSucceeded(durationMs);
    this.totals.sent += plan.acked;
    this.totals.batches++;
    this.deps.metrics.sent.inc(this.labels, plan.acked);
    this.deps.metrics.batches.inc({ ...this.labels, result: 'partial' });
    const failed = plan.deadLettered + plan.released;
    this.totals.failed += failed;
    this.deps.metrics.failed.inc(this.labels, failed);
    for (const item of plan.outcome.deadLetter ?? []) this.countDeadLettered(1, item.code);
  }

  /** Bookkeeping for a failed attempt: metrics, health, backoff, and dropping the connection. */
  private failed(err: BifrostError, phase: 'connect' | 'write', points: number, generation: number): void {
    this.deps.logger.warn({ code: err.code, kind: err.kind, phase }, err.message);
    if (phase === 'write') {
      this.health.writeFailed(err);
      this.totals.failed += points;
      this.totals.failedBatches++;
      this.deps.metrics.failed.inc(this.labels, points);
      this.deps.metrics.batches.inc({ ...this.labels, result: 'failure' });
    }
    if (err.kind !== 'capacity') this.health.connected = false;
    this.backOff(err, generation);
  }

  /** Advances the backoff once per outage (not once per concurrent failure) unless the breaker governs. */
  private backOff(err: BifrostError, generation: number): void {
    if (err.kind === 'auth' || err.kind === 'config' || generation !== this.failureGeneration) return;
    this.failureGeneration++;
    const retryAfter = err instanceof CapacityError ? err.retryAfterMs : undefined;
    this.pauseUntil = Math.max(this.pauseUntil, Date.now() + this.retry.nextDelay(retryAfter));
  }

  private ensureConnected(): Promise<void> {
    if (this.health.connected) return Promise.resolve();
    this.connecting ??= this.connectOnce().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    try {
      await withTimeout(
        () => this.deps.connector.connect(),
        this.deps.options.timeoutMs,
        'connect',
        CONNECT_TIMEOUT_CODE,
      );
    } catch (e) {
      const err = classifyError(e, this.label);
      this.deps.metrics.connectionAttempts.inc({ ...this.labels, result: 'failure' });
      this.health.connectFailed(err);
      throw err;
    }
    this.deps.metrics.connectionAttempts.inc({ ...this.labels, result: 'success' });
    this.health.connectSucceeded();
    this.deps.logger.info({}, 'connected');
  }

  /** A connect outside a write (start, health tick, half-open trial), counted by the breaker. */
  private async connectThroughBreaker(): Promise<void> {
    if (this.stopped) return;
    const generation = this.failureGeneration;
    try {
      await this.breaker.execute(() => this.ensureConnected());
    } catch (err) {
      if (isBrokenCircuitError(err)) return;
      this.failed(classifyError(err, this.label), 'connect', 0, generation);
    } finally {
      this.wake.notify();
    }
  }

  /** Periodic: reconnect when disconnected and allowed, else run the connector's probe. */
  private async checkHealth(): Promise<void> {
    if (this.stopped) return;
    if (!this.health.connected) {
      // With data queued (leased or not) the delivery loop's next write reconnects and is the real
      // test: a connect that succeeds here would count as a breaker success between failed writes
      // (so writes that keep failing would never open it) or steal the half-open trial from a write.
      const queued = this.deps.queue.stats(this.deps.name).points > 0;
      if (!queued && Date.now() >= this.pauseUntil && this.breaker.admits()) await this.connectThroughBreaker();
      return;
    }
    const probe = this.deps.connector.healthCheck;
    if (!probe) return;
    const result = await withTimeout(
      () => probe.call(this.deps.connector),
      this.deps.options.timeoutMs,
      'health check',
      HEALTH_CHECK_TIMEOUT_CODE,
    ).catch((err: unknown) => ({ ok: false, detail: classifyError(err, this.label).message }));
    this.health.probeResult(result.ok, result.detail);
    if (!result.ok && !this.stopped) {
      this.deps.logger.warn({ detail: result.detail }, 'health check failed; reconnecting');
      this.health.connected = false;
      await this.connectThroughBreaker();
    }
  }
}
