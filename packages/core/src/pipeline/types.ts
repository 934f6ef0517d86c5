import type { DataPoint } from '../data-point.js';

/** Exponential backoff with full jitter. */
export interface RetryPolicy {
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** Give up retrying a batch after this long and leave it queued for the next cycle; 0 = never. */
  maxElapsedMs: number;
}

export interface BreakerPolicy {
  /** Consecutive failed writes that open the breaker. */
  failureThreshold: number;
  /** Time open before a half-open trial write. */
  resetMs: number;
}

/**
 * Finding a point that makes writes fail as transient (poison after send: the platform drops the
 * connection right after that point is published) while other writes succeed.
 */
export interface PoisonPolicy {
  /**
   * Bisect a batch whose write fails as transient: its parts are written alone (nothing else in
   * flight), the half that fails is split again, and a culprit found this way is dead-lettered.
   */
  isolate: boolean;
  /**
   * Failed writes containing a point, each after another write succeeded (proof the peer is up),
   * before it is a suspect; a suspect that then fails alone 5 times with no other failure in between
   * is dead-lettered as suspected poison. Failures with no success in between (an outage) never count.
   */
  strikes: number;
}

/** How the host delivers to one connector. */
export interface DeliveryOptions {
  batchSize: number;
  flushIntervalMs: number;
  /** A write not acknowledged within this time counts as a transient failure. */
  timeoutMs: number;
  /**
   * Batches in flight at once. For a connector that needs per-device ordering, devices are hashed
   * onto this many streams, each with one batch in flight, so each device's points stay in order.
   */
  maxInFlight: number;
  retry: RetryPolicy;
  breaker: BreakerPolicy;
  healthCheckIntervalMs: number;
  poison: PoisonPolicy;
}

export type BreakerState = 'closed' | 'open' | 'half-open';
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** Health of one connector, as served on `/api/cloud/health`. */
export interface ConnectorHealth {
  name: string;
  type: string;
  status: HealthStatus;
  reason?: string;
  connected: boolean;
  breaker: BreakerState;
  /** When an open breaker lets its trial write through (epoch ms). */
  breakerTrialAt?: number;
  lastSuccessAt?: number;
  lastFailureAt?: number;
  lastError?: { code: string; message: string };
  errorCount: number;
  consecutiveFailures: number;
  /** Average write round trip over the last 1000 acknowledged writes, ms. */
  responseTimeMs?: number;
  /** 99th percentile of the same window, ms. */
  p99ResponseTimeMs?: number;
  /** 0..1 over all writes, and over the last 100. */
  successRate: number;
  recentSuccessRate: number;
  /** Payload bytes acknowledged, when the connector reports them (a `WriteReceipt` from `write`). */
  bytesSent?: number;
}

/** Chooses the connectors (and lane priority 0..9) for a point; `createRouter` from the routing module satisfies it. */
export interface PointRouter {
  route(point: DataPoint): Array<{ connector: string; priority: number }>;
}
