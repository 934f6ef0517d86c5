import type { BifrostError } from '../errors.js';
import type { BreakerState, ConnectorHealth, HealthStatus } from './types.js';

/** Writes kept for the recent success rate. */
const RECENT_WRITES = 100;
/** Round trips kept for the average and p99 response time. */
const LATENCY_WINDOW = 1_000;
/** Below this recent success rate (with enough samples) a connected connector is degraded. */
const DEGRADED_SUCCESS_RATE = 0.9;

/** Fixed-size ring of the newest values. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(v: T): void {
    if (this.items.length < this.size) this.items.push(v);
    else this.items[this.next] = v;
    this.next = (this.next + 1) % this.size;
  }
  values(): readonly T[] {
    return this.items;
  }
}

/** Outside facts the tracker does not own, read when a snapshot is taken. */
export interface HealthContext {
  breaker: BreakerState;
  /** When an open breaker lets its trial write through (epoch ms). */
  breakerTrialAt?: number;
  /** Queue storage problem (disk full), if any. */
  queueProblem?: string;
}

/**
 * Bookkeeping behind {@link ConnectorHealth} for one connector: write outcomes, round trips,
 * connection state and the latest error, turned into healthy / degraded / unhealthy with a reason.
 */
export class HealthTracker {
  connected = false;
  private attemptedConnect = false;
  private writes = 0;
  private okWrites = 0;
  private errors = 0;
  private consecutive = 0;
  private bytes: number | undefined;
  private lastSuccessAt: number | undefined;
  private lastFailureAt: number | undefined;
  private lastError: BifrostError | undefined;
  private probeProblem: string | undefined;
  private readonly recent = new Ring<boolean>(RECENT_WRITES);
  private readonly latencies = new Ring<number>(LATENCY_WINDOW);

  constructor(
    readonly name: string,
    readonly type: string,
  ) {}

  connectSucceeded(): void {
    this.attemptedConnect = true;
    this.connected = true;
  }

  connectFailed(err: BifrostError, now = Date.now()): void {
    this.attemptedConnect = true;
    this.connected = false;
    this.noteError(err, now);
  }

  /** A write the remote side acknowledged (fully, or in part for a partial write). */
  writeSucceeded(durationMs: number, now = Date.now(), bytes?: number): void {
    if (bytes !== undefined) this.bytes = (this.bytes ?? 0) + bytes;
    this.writes++;
    this.okWrites++;
    this.consecutive = 0;
    this.lastSuccessAt = now;
    this.recent.push(true);
    this.latencies.push(durationMs);
  }

  writeFailed(err: BifrostError, now = Date.now()): void {
    this.writes++;
    this.recent.push(false);
    this.noteError(err, now);
  }

  probeResult(ok: boolean, detail?: string): void {
    this.probeProblem = ok ? undefined : (detail ?? 'health check failed');
    if (!ok) this.errors++;
  }

  /** Average and 99th percentile of the last {@link LATENCY_WINDOW} write round trips, ms. */
  responseTimes(): { avg?: number; p99?: number } {
    const v = this.latencies.values();
    if (!v.length) return {};
    const sorted = [...v].sort((a, b) => a - b);
    const avg = v.reduce((s, x) => s + x, 0) / v.length;
    return { avg, p99: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] };
  }

  successRates(): { overall: number; recent: number } {
    const r = this.recent.values();
    return {
      overall: this.writes ? this.okWrites / this.writes : 1,
      recent: r.length ? r.filter(Boolean).length / r.length : 1,
    };
  }

  snapshot(ctx: HealthContext): ConnectorHealth {
    const { status, reason } = this.status(ctx);
    const rates = this.successRates();
    const times = this.responseTimes();
    const h: ConnectorHealth = {
      name: this.name,
      type: this.type,
      status,
      connected: this.connected,
      breaker: ctx.breaker,
      ...(ctx.breakerTrialAt ? { breakerTrialAt: ctx.breakerTrialAt } : {}),
      errorCount: this.errors,
      consecutiveFailures: this.consecutive,
      successRate: rates.overall,
      recentSuccessRate: rates.recent,
    };
    if (reason) h.reason = reason;
    if (this.lastSuccessAt !== undefined) h.lastSuccessAt = this.lastSuccessAt;
    if (this.lastFailureAt !== undefined) h.lastFailureAt = this.lastFailureAt;
    if (this.lastError) h.lastError = { code: this.lastError.code, message: this.lastError.message };
    if (times.avg !== undefined) h.responseTimeMs = times.avg;
    if (times.p99 !== undefined) h.p99ResponseTimeMs = times.p99;
    if (this.bytes !== undefined) h.bytesSent = this.bytes;
    return h;
  }

  private noteError(err: BifrostError, now: number): void {
    this.errors++;
    this.consecutive++;
    this.lastFailureAt = now;
    this.lastError = err;
  }

  private status(ctx: HealthContext): { status: HealthStatus; reason?: string } {
    const last = this.lastError?.message;
    if (ctx.queueProblem) return { status: 'unhealthy', reason: `queue: ${ctx.queueProblem}` };
    if (ctx.breaker === 'open') {
      const why =
        this.lastError && (this.lastError.kind === 'auth' || this.lastError.kind === 'config')
          ? `${this.lastError.kind} error, delivery paused until it is fixed`
          : `${this.consecutive} consecutive failures, delivery paused`;
      return { status: 'unhealthy', reason: `circuit breaker open (${why}): ${last ?? 'unknown error'}` };
    }
    if (ctx.breaker === 'half-open')
      return { status: 'degraded', reason: 'circuit breaker half-open: trial delivery running' };
    if (!this.connected) {
      return {
        status: 'degraded',
        reason: this.attemptedConnect ? `not connected: ${last ?? 'connection lost'}` : 'connecting',
      };
    }
    if (this.consecutive > 0)
      return { status: 'degraded', reason: `retrying after ${this.consecutive} failure(s): ${last}` };
    if (this.probeProblem) return { status: 'degraded', reason: `health check failed: ${this.probeProblem}` };
    const recent = this.recent.values();
    const rate = this.successRates().recent;
    if (recent.length >= 10 && rate < DEGRADED_SUCCESS_RATE) {
      return { status: 'degraded', reason: `recent success rate ${(rate * 100).toFixed(0)}%` };
    }
    return { status: 'healthy' };
  }
}
