import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BreakerState } from '../pipeline/types.js';
import type { QueueIntegrity } from '../queue/types.js';

/** Per-connector facts the gauges read at scrape time. */
export interface ConnectorGaugeSource {
  connector: string;
  type: string;
  /** Points queued (including those in flight). */
  queued: number;
  /** Age of the oldest queued point, seconds (0 when empty). */
  oldestAgeSeconds: number;
  /** Dead letters the queue holds for this connector. */
  deadLetters: number;
  /** Points of this connector the queue quarantined since it opened (damaged chunks). */
  quarantined: number;
  breaker: BreakerState;
}

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
const LABELS = ['connector', 'type'] as const;

/**
 * The delivery pipeline's Prometheus metrics (seed names, labels `connector` and `type`) on a
 * dedicated prom-client {@link Registry}, so embedding Bifrost never collides with an
 * application's global registry. Gauges are read from `gaugeSource` at scrape time.
 */
export class PipelineMetrics {
  readonly sent: Counter<'connector' | 'type'>;
  readonly failed: Counter<'connector' | 'type'>;
  readonly batches: Counter<'connector' | 'type' | 'result'>;
  readonly connectionAttempts: Counter<'connector' | 'type' | 'result'>;
  readonly responseTime: Histogram<'connector' | 'type'>;
  readonly deadLettered: Counter<'connector' | 'type' | 'code'>;
  readonly dropped: Counter<'connector' | 'type'>;
  readonly ingested: Counter<'connector' | 'type'>;
  readonly unrouted: Counter;
  readonly retries: Counter<'connector' | 'type'>;
  readonly bytesSent: Counter<'connector' | 'type'>;
  /** Read from the queue's lane stats at scrape time. */
  readonly quarantined: Counter<'connector' | 'type'>;
  readonly integrityIncidents: Gauge;
  readonly salvagedPoints: Gauge<'result'>;

  constructor(
    readonly registry: Registry,
    gaugeSource: () => ConnectorGaugeSource[],
    integritySource: () => QueueIntegrity = () => ({ incidents: [], quarantined: 0, recovered: 0, lost: 0 }),
  ) {
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.sent = counter('bifrost_cloud_data_points_sent_total', 'Points the remote side acknowledged', LABELS);
    this.failed = counter(
      'bifrost_cloud_data_points_failed_total',
      'Points in write attempts that failed (each failed attempt counts its points; they stay queued unless dead-lettered)',
      LABELS,
    );
    this.batches = counter(
      'bifrost_cloud_batch_operations_total',
      'Batch writes by result: success, partial (some points rejected), failure',
      [...LABELS, 'result'],
    );
    this.connectionAttempts = counter(
      'bifrost_cloud_connection_attempts_total',
      'Calls to connect() by result: success, failure',
      [...LABELS, 'result'],
    );
    this.deadLettered = counter(
      'bifrost_cloud_dead_letter_total',
      'Points moved to the dead-letter table by the pipeline (poison, rejected, TTL expired), by error code',
      [...LABELS, 'code'],
    );
    this.dropped = counter(
      'bifrost_cloud_points_dropped_total',
      'Points dropped by a full lane (when_full: drop_oldest / drop_newest)',
      LABELS,
    );
    this.ingested = counter('bifrost_cloud_points_ingested_total', 'Points durably queued for the connector', LABELS);
    this.unrouted = new Counter({
      name: 'bifrost_cloud_points_unrouted_total',
      help: 'Ingested points no routing rule (and no default connector) selected',
      registers,
    });
    this.retries = counter(
      'bifrost_cloud_retries_total',
      'Batch writes that re-send points written before: in-place retries, and batches handed back to the queue (timeout, auth, breaker, maxElapsed, partial write) and leased again',
      LABELS,
    );
    this.bytesSent = counter(
      'bifrost_cloud_bytes_sent_total',
      'Payload bytes acknowledged, for connectors that report them',
      LABELS,
    );
    this.responseTime = new Histogram({
      name: 'bifrost_cloud_response_time_seconds',
      help: 'Round trip of acknowledged batch writes',
      labelNames: LABELS,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const counted = new Map<string, number>();
    this.quarantined = new Counter({
      name: 'bifrost_cloud_points_quarantined_total',
      help: 'Points whose stored chunk failed its checksum or could not be read, moved to the quarantine table (not delivered)',
      labelNames: LABELS,
      registers,
      collect(this: Counter<'connector' | 'type'>) {
        for (const s of gaugeSource()) {
          const key = `${s.connector}\u0000${s.type}`;
          this.inc({ connector: s.connector, type: s.type }, Math.max(0, s.quarantined - (counted.get(key) ?? 0)));
          counted.set(key, Math.max(s.quarantined, counted.get(key) ?? 0));
        }
      },
    });
    this.integrityIncidents = new Gauge({
      name: 'bifrost_cloud_queue_integrity_incidents',
      help: 'Damage found in the queue file (quarantined chunks, a salvaged, missing or truncated file) not acknowledged yet',
      registers,
      collect(this: Gauge) {
        this.set(integritySource().incidents.length);
      },
    });
    this.salvagedPoints = new Gauge({
      name: 'bifrost_cloud_queue_salvaged_points',
      help: 'Points a salvage of a damaged queue file recovered or lost (result), until acknowledged',
      labelNames: ['result'],
      registers,
      collect(this: Gauge<'result'>) {
        const i = integritySource();
        this.set({ result: 'recovered' }, i.recovered);
        this.set({ result: 'lost' }, i.lost);
      },
    });
    const gauge = (name: string, help: string, read: (s: ConnectorGaugeSource) => number) =>
      new Gauge({
        name,
        help,
        labelNames: LABELS,
        registers,
        collect(this: Gauge<'connector' | 'type'>) {
          for (const s of gaugeSource()) this.set({ connector: s.connector, type: s.type }, read(s));
        },
      });
    gauge('bifrost_cloud_buffer_size', 'Points queued for the connector, including those in flight', (s) => s.queued);
    gauge('bifrost_cloud_oldest_queued_age_seconds', 'Age of the oldest queued point', (s) => s.oldestAgeSeconds);
    gauge('bifrost_cloud_dead_letters', 'Dead letters held for the connector', (s) => s.deadLetters);
    gauge(
      'bifrost_cloud_breaker_state',
      'Circuit breaker: 0 closed, 1 half-open, 2 open',
      (s) => BREAKER_VALUE[s.breaker],
    );
  }

  /** Publishes every counter of a connector at 0, so dashboards see it before its first event. */
  initConnector(connector: string, type: string): void {
    const l = { connector, type };
    for (const c of [this.sent, this.failed, this.dropped, this.ingested, this.retries]) c.inc(l, 0);
    for (const result of ['success', 'partial', 'failure']) this.batches.inc({ ...l, result }, 0);
    for (const result of ['success', 'failure']) this.connectionAttempts.inc({ ...l, result }, 0);
  }
}
