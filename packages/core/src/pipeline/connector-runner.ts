import { isBrokenCircuitError } from 'cockatiel';
import { classifyError, type BifrostError } from '../errors.js';
import type { Connector, Logger, WriteReceipt } from '../plugin.js';
import type { PipelineMetrics } from '../metrics/pipeline-metrics.js';
import type { DurableQueue } from '../queue/types.js';
import { RetrySchedule } from './backoff.js';
import type { BatchLimits } from './batch-limits.js';
import { BatchScheduler } from './batch-scheduler.js';
import { BatchParts, SUSPECTED_POISON_CODE, SuspectLedger } from './bisection.js';
import { ConnectorBreaker } from './breaker.js';
import { DeliveryRecorder, type ConnectorTotals } from './delivery-recorder.js';
import type { HealthTracker } from './health-tracker.js';
import type { LeaseHandle } from './lease-handle.js';
import { planPoison } from './settle-plan.js';
import { withAbortableTimeout, withTimeout } from './timeout.js';
import type { ConnectorHealth, DeliveryOptions } from './types.js';
import { Wakeup, sleep } from './wakeup.js';
import { WriteGate } from './write-gate.js';

export type { ConnectorTotals } from './delivery-recorder.js';

/** Timeout codes the host puts on calls it gave up waiting for. */
export const WRITE_TIMEOUT_CODE = 'BIFROST_ERR_WRITE_TIMEOUT';

/**
 * Writes of a suspect alone after the one that gave it its strikes that must fail too, with no other
 * failure in between, before it is dead-lettered.
 */
const CONFIRMATIONS = 4;
export { CONNECT_TIMEOUT_CODE, HEALTH_CHECK_TIMEOUT_CODE } from './connection-keeper.js';
import { CONNECT_TIMEOUT_CODE, ConnectionKeeper } from './connection-keeper.js';

export interface ConnectorRunnerDeps {
  name: string;
  type: string;
  connector: Connector;
  options: DeliveryOptions;
  /** Count and byte limits of one batch (from the config and the connector's capabilities). */
  limits: BatchLimits;
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

type Attempt =
  | { ok: true; durationMs: number; bytes?: number }
  | { ok: false; error: BifrostError; phase: 'connect' | 'write'; durationMs?: number }
  | { ok: false; error: 'breaker-open' }
  /** The lease was given back (stop deadline) while the write waited for the gate: nothing written. */
  | { ok: false; error: 'released' };

/**
 * Delivers one connector's lane: writes the batches its {@link BatchScheduler} leases, with a
 * cancelling timeout, through the breaker; settles each lease exactly once; retries with backoff;
 * isolates poison by bisection (see {@link BatchParts}); reconnects; probes health; and drains on
 * stop. One runner per connector, so a connector that is down never slows the others.
 */
export class ConnectorRunner {
  readonly label: string;
  readonly breaker: ConnectorBreaker;
  private readonly recorder: DeliveryRecorder;
  private readonly scheduler: BatchScheduler;
  private readonly retry: RetrySchedule;
  private readonly wake = new Wakeup();
  private readonly gate = new WriteGate();
  private readonly suspects = new SuspectLedger();
  private readonly stopping = new AbortController();
  /** Aborted when the stop deadline passes: writes still running are cancelled. */
  private readonly forceStop = new AbortController();
  /** No new attempt before this time (epoch ms): the current backoff. */
  private pauseUntil = 0;
  /** Failed connects and writes so far. */
  private failures = 0;
  /** Bumped by each failure that advanced the backoff; concurrent failures of the same outage share one step. */
  private failureGeneration = 0;
  private readonly keeper: ConnectionKeeper;
  private dispatcher: Promise<void> | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** The health tick in progress, if any (stop waits for it before closing the connector). */
  private healthRun: Promise<void> | undefined;

  constructor(private readonly deps: ConnectorRunnerDeps) {
    this.label = `${deps.type}:${deps.name}`;
    this.recorder = new DeliveryRecorder(deps.name, deps.type, deps.metrics);
    this.retry = new RetrySchedule(deps.options.retry);
    this.breaker = new ConnectorBreaker(deps.options.breaker, (state) => {
      if (state === 'closed') deps.logger.info({ breaker: state }, `circuit breaker ${state}`);
      else deps.logger.warn({ breaker: state }, `circuit breaker ${state}`);
      this.wake.notify();
    });
    this.keeper = new ConnectionKeeper({
      label: this.label,
      connector: deps.connector,
      timeoutMs: deps.options.timeoutMs,
      breaker: this.breaker,
      recorder: this.recorder,
      logger: deps.logger,
      hasQueued: () => deps.queue.stats(deps.name).points > 0,
      pauseUntil: () => this.pauseUntil,
      stopped: () => this.stopped,
      connectFailed: (err, generation) => this.failed(err, 'connect', 0, generation),
      generation: () => this.failureGeneration,
      notify: () => this.wake.notify(),
    });
    this.scheduler = new BatchScheduler({
      name: deps.name,
      queue: deps.queue,
      logger: deps.logger,
      options: deps.options,
      limits: deps.limits,
      breaker: this.breaker,
      wake: this.wake,
      stopping: this.stopping.signal,
      pauseUntil: () => this.pauseUntil,
      deliver: (handle) => this.deliver(handle),
      perDeviceOrder: deps.perDeviceOrder,
    });
  }

  get name(): string {
    return this.deps.name;
  }

  get health(): HealthTracker {
    return this.recorder.health;
  }

  get totals(): Readonly<ConnectorTotals> {
    return this.recorder.totals;
  }

  /** Connects in the background and starts the delivery loop and the periodic health check. */
  start(): void {
    void this.keeper.connectThroughBreaker();
    this.dispatcher = this.scheduler
      .run()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'delivery loop crashed'));
    this.healthTimer = setInterval(() => {
      this.healthRun ??= this.keeper.checkHealth().finally(() => {
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
   * then cancels the writes still running (their signals abort) and releases what is still leased
   * (it stays queued for the next start), then closes the connector (waiting at most `timeoutMs`).
   * Returns how many points were released unfinished.
   */
  async stop(deadlineMs: number): Promise<number> {
    this.stopping.abort();
    clearInterval(this.healthTimer);
    this.wake.notify();
    await this.dispatcher;
    const deadline = new AbortController();
    const drained = await Promise.race([
      Promise.allSettled([...this.scheduler.workers.values(), this.healthRun]).then(() => true),
      sleep(deadlineMs, deadline.signal).then(() => false),
    ]);
    deadline.abort();
    let released = 0;
    if (!drained) {
      this.forceStop.abort();
      for (const handle of this.scheduler.workers.keys()) {
        const held = handle.heldPoints;
        if (await handle.release()) released += held;
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
      breakerTrialAt: this.breaker.state === 'open' ? this.breaker.trialAt : undefined,
      queueProblem: q.ok ? undefined : (q.reason ?? 'storage error'),
    });
  }

  /** Counts points queued for this connector and points its full lane dropped (old or new ones). */
  countIngested(queued: number, dropped: number): void {
    this.recorder.ingested(queued, dropped);
  }

  /** Counts points the queue moved to the dead-letter table on its own (TTL expiry). */
  countDeadLettered(n: number, code: string): void {
    this.recorder.deadLettered(n, code);
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /**
   * Writes one leased batch until every point is acked, dead-lettered or handed back to the queue.
   * A write failing as transient splits its part in halves (poison isolation); a single point whose
   * writes keep failing while others succeed is dead-lettered as suspected poison.
   */
  private async deliver(handle: LeaseHandle): Promise<void> {
    const { retry, poison } = this.deps.options;
    const parts = new BatchParts(handle, {
      bisect: poison.isolate,
      perDeviceOrder: this.deps.perDeviceOrder,
      suspected: (p) => this.suspects.suspected(p.id),
    });
    const firstTryAt = Date.now();
    /**
     * A single point with its strikes, being confirmed: how often it failed alone since, with no
     * other failure in between (`seen`: the runner's failure count at its last failure).
     */
    let confirming: { part: LeaseHandle; failures: number; seen: number } | undefined;
    for (let part = parts.next(); part; part = parts.next()) {
      const generation = this.failureGeneration;
      const attempt = await this.attempt(part, parts.isolating);
      if (!part.open) return; // released by a stop deadline meanwhile
      if (attempt.ok) {
        parts.settled(part);
        await this.acked(part, attempt.durationMs, attempt.bytes, parts.empty ? handle : undefined);
        continue;
      }
      if (attempt.error === 'breaker-open' || attempt.error === 'released') {
        await this.handBack(handle);
        return;
      }
      const err = attempt.error;
      if (err.kind === 'payload' || err.kind === 'partial') {
        parts.settled(part);
        const released = await this.poisoned(part, err, attempt.durationMs);
        // Points handed back go first again: the parts behind them wait in the queue too.
        if (released && !parts.empty) return this.handBack(handle);
        continue;
      }
      this.failed(err, attempt.phase, part.lease.points.length, generation);
      if (attempt.phase === 'write' && err.kind === 'transient' && err.code !== WRITE_TIMEOUT_CODE) {
        const strikes = this.suspects.failed(part.lease.points);
        if (poison.isolate && strikes >= poison.strikes) {
          // A flaky peer can get a good point this far; the poison fails alone every time.
          const clean = confirming?.part === part && this.failures === confirming.seen + 1;
          confirming = { part, failures: clean ? confirming!.failures + 1 : 0, seen: this.failures };
          if (confirming.failures >= CONFIRMATIONS) {
            parts.settled(part);
            await this.convict(part, err, strikes);
            continue;
          }
          parts.failed(part); // a part that may go first is written next, where one is left
        } else {
          confirming = undefined;
          parts.failed(part);
        }
      }
      const tooLong = retry.maxElapsedMs > 0 && Date.now() - firstTryAt >= retry.maxElapsedMs;
      // A timed-out write was cancelled (and given its grace period): its points go back to the queue.
      const handBack = err.code === WRITE_TIMEOUT_CODE || err.kind === 'auth' || err.kind === 'config';
      // Held through an open breaker: a batch with other parts to send as the trial, or a suspect
      // being confirmed (handed back, a new lease would send the poison as the trial, every time).
      const hold = parts.isolating && (parts.count > 1 || confirming !== undefined);
      if (handBack || tooLong || this.stopped || !(await this.pauseBeforeRetry(hold))) {
        await this.handBack(handle);
        return;
      }
    }
  }

  /**
   * Waits out the backoff before retrying a batch, and with `hold` an open breaker too (the next
   * write is then its trial). False when the batch should be handed back instead.
   */
  private async pauseBeforeRetry(hold: boolean): Promise<boolean> {
    await sleep(this.pauseUntil - Date.now(), this.stopping.signal);
    if (this.stopped || this.breaker.state === 'closed') return !this.stopped;
    if (!hold) return false;
    // A timer may fire a millisecond before the clock reaches the trial time: wait until it does.
    while (!this.stopped && this.breaker.state === 'open' && !this.breaker.admits())
      await sleep(Math.max(1, this.breaker.trialAt - Date.now()), this.stopping.signal);
    return !this.stopped && this.breaker.admits(); // closed meanwhile (an operator's reset), or the trial's time
  }

  /** Gives a batch back to the queue after the ones leased behind it, so its older points are leased first again. */
  private async handBack(handle: LeaseHandle): Promise<void> {
    await Promise.all([this.scheduler.dropAhead(handle), handle.release()]);
  }

  /**
   * One connect-if-needed plus write, through the breaker and under the write timeout. A write that
   * times out is cancelled through its signal and given a grace period to end, so its retry never
   * overlaps it. A write of points that were written before (an in-place retry, or a lease of
   * points handed back to the queue after an earlier attempt) counts as a retry.
   */
  private async attempt(handle: LeaseHandle, alone: boolean): Promise<Attempt> {
    const { points } = handle.lease;
    const { timeoutMs } = this.deps.options;
    let writeStartedAt = 0;
    const leave = await this.gate.enter(alone);
    try {
      if (!handle.open) return { ok: false, error: 'released' };
      const receipt: unknown = await this.breaker.execute(async () => {
        await this.keeper.ensureConnected();
        if (handle.written || handle.lease.attempts > 0) this.recorder.retried();
        handle.written = true;
        writeStartedAt = performance.now();
        try {
          return await withAbortableTimeout((signal) => this.deps.connector.write(points, { signal }), {
            ms: timeoutMs,
            graceMs: timeoutMs,
            what: `write of ${points.length} point(s)`,
            code: WRITE_TIMEOUT_CODE,
            stop: this.forceStop.signal,
            onAbandon: () =>
              this.deps.logger.warn({}, 'a cancelled write did not end within its grace period (signal ignored?)'),
          });
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
    } finally {
      leave();
    }
  }

  /** `slot`: the leased batch whose scheduler slot this ack frees (its last part, or the whole batch). */
  private async acked(handle: LeaseHandle, durationMs: number, bytes?: number, slot?: LeaseHandle): Promise<void> {
    this.retry.reset();
    this.suspects.succeeded(handle.lease.points);
    this.recorder.answered(durationMs, bytes);
    const committed = handle.settle({ acked: 'all' });
    // The remote side has these points: the next batch may be written while the ack is committed
    // (should the commit fail, they are sent again: at-least-once).
    if (slot) this.scheduler.writeDone(slot);
    if (await committed) this.recorder.acked(handle.lease.points.length, durationMs, bytes);
  }

  /**
   * The remote side answered but refused some points: ack the accepted, dead-letter the poison.
   * Returns how many points were handed back for another try.
   */
  private async poisoned(handle: LeaseHandle, err: BifrostError, durationMs?: number): Promise<number> {
    const plan = planPoison(handle.lease.points, err);
    this.suspects.succeeded(handle.lease.points);
    const dropped = plan.released ? this.scheduler.dropAhead(handle) : undefined;
    const settled = await handle.settle(plan.outcome);
    await dropped;
    if (!settled) return 0;
    this.deps.logger.warn(
      { code: err.code, deadLettered: plan.deadLettered, acked: plan.acked, released: plan.released },
      err.message,
    );
    this.retry.reset();
    if (durationMs !== undefined) this.recorder.answered(durationMs);
    this.recorder.partial(plan);
    return plan.released;
  }

  /**
   * A point whose writes failed `strikes` times, each after another write succeeded, and then alone
   * `CONFIRMATIONS` more times with no other failure between: the platform refuses it by failing the
   * connection (poison after send). Dead-letters it.
   */
  private async convict(handle: LeaseHandle, err: BifrostError, strikes: number): Promise<void> {
    const [point] = handle.lease.points;
    if (!point) return;
    const reason =
      `suspected poison: ${strikes} writes containing this point failed as transient while other writes ` +
      `succeeded, and it failed alone ${CONFIRMATIONS + 1} times with no other failure between (last error: ${err.message})`;
    const settled = await handle.settle({
      acked: [],
      deadLetter: [{ id: point.id, code: SUSPECTED_POISON_CODE, reason }],
    });
    if (!settled) return;
    this.suspects.forget(handle.lease.points);
    this.retry.reset();
    // The confirmations may have opened the breaker; the successes before them show the peer is up.
    this.resetBreaker();
    this.recorder.deadLettered(1, SUSPECTED_POISON_CODE);
    this.deps.logger.warn({ code: SUSPECTED_POISON_CODE, point: point.id, strikes }, reason);
  }

  /** Bookkeeping for a failed attempt: metrics, health, backoff, and dropping the connection. */
  private failed(err: BifrostError, phase: 'connect' | 'write', points: number, generation: number): void {
    this.failures++;
    this.deps.logger.warn({ code: err.code, kind: err.kind, phase }, err.message);
    if (phase === 'write') this.recorder.writeFailed(err, points);
    if (err.kind !== 'capacity') this.health.connected = false;
    this.backOff(err, generation);
  }

  /** Advances the backoff once per outage (not once per concurrent failure) unless the breaker governs. */
  private backOff(err: BifrostError, generation: number): void {
    if (err.kind === 'auth' || err.kind === 'config' || generation !== this.failureGeneration) return;
    this.failureGeneration++;
    const retryAfter = err.kind === 'capacity' ? (err as { retryAfterMs?: unknown }).retryAfterMs : undefined;
    this.pauseUntil = Math.max(
      this.pauseUntil,
      Date.now() + this.retry.nextDelay(typeof retryAfter === 'number' ? retryAfter : undefined),
    );
  }
}
