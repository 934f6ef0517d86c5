import type { BifrostError } from '../errors.js';
import type { PipelineMetrics } from '../metrics/pipeline-metrics.js';
import { HealthTracker } from './health-tracker.js';
import type { PoisonPlan } from './settle-plan.js';

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

/**
 * The one place a connector's delivery events are counted: each event updates the JSON totals,
 * the Prometheus metrics and the health tracker together, so the three never disagree.
 */
export class DeliveryRecorder {
  readonly health: HealthTracker;
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
  private readonly labels: { connector: string; type: string };

  constructor(
    name: string,
    type: string,
    private readonly metrics: PipelineMetrics,
  ) {
    this.labels = { connector: name, type };
    this.health = new HealthTracker(name, type);
    metrics.initConnector(name, type);
  }

  /** Points queued for this connector, and points its full lane dropped (old or new ones). */
  ingested(queued: number, dropped: number): void {
    this.totals.ingested += queued;
    this.metrics.ingested.inc(this.labels, queued);
    if (dropped) {
      this.totals.dropped += dropped;
      this.metrics.dropped.inc(this.labels, dropped);
    }
  }

  /** A write of points that were written before. */
  retried(): void {
    this.totals.retries++;
    this.metrics.retries.inc(this.labels);
  }

  /** The remote side acknowledged a whole batch (counted once its ack is committed to the queue). */
  acked(points: number, durationMs: number, bytes: number | undefined): void {
    this.totals.sent += points;
    this.totals.batches++;
    this.metrics.sent.inc(this.labels, points);
    this.metrics.batches.inc({ ...this.labels, result: 'success' });
    this.metrics.responseTime.observe(this.labels, durationMs / 1000);
    if (bytes !== undefined) this.metrics.bytesSent.inc(this.labels, bytes);
  }

  /** The remote side answered a write: for health and latency, before the queue commit. */
  answered(durationMs: number, bytes?: number): void {
    this.health.writeSucceeded(durationMs, Date.now(), bytes);
  }

  /** The remote side refused some points of a batch (poison, partial write). */
  partial(plan: PoisonPlan): void {
    this.totals.sent += plan.acked;
    this.totals.batches++;
    this.metrics.sent.inc(this.labels, plan.acked);
    this.metrics.batches.inc({ ...this.labels, result: 'partial' });
    const failed = plan.deadLettered + plan.released;
    this.totals.failed += failed;
    this.metrics.failed.inc(this.labels, failed);
    for (const item of plan.outcome.deadLetter ?? []) this.deadLettered(1, item.code);
  }

  /** A write of `points` failed with a retryable or breaker-opening error. */
  writeFailed(err: BifrostError, points: number): void {
    this.health.writeFailed(err);
    this.totals.failed += points;
    this.totals.failedBatches++;
    this.metrics.failed.inc(this.labels, points);
    this.metrics.batches.inc({ ...this.labels, result: 'failure' });
  }

  connectSucceeded(): void {
    this.metrics.connectionAttempts.inc({ ...this.labels, result: 'success' });
    this.health.connectSucceeded();
  }

  connectFailed(err: BifrostError): void {
    this.metrics.connectionAttempts.inc({ ...this.labels, result: 'failure' });
    this.health.connectFailed(err);
  }

  /** Points moved to the dead-letter table (refused by the remote side, or expired in the queue). */
  deadLettered(n: number, code: string): void {
    this.totals.deadLettered += n;
    this.metrics.deadLettered.inc({ ...this.labels, code }, n);
  }
}
