import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { DataPoint } from '../data-point.js';
import { ConfigError, isBifrostError, labelError } from '../errors.js';
import { PipelineMetrics, type ConnectorGaugeSource } from '../metrics/pipeline-metrics.js';
import {
  isApiCompatible,
  PLUGIN_API_VERSION,
  type Connector,
  type ConnectorDefinition,
  type Logger,
} from '../plugin.js';
import { TTL_EXPIRED_CODE } from '../queue/chunked-queue.js';
import type { DurableQueue, EnqueueItem, LaneSettings } from '../queue/types.js';
import type { TlsMaterial } from '../tls/types.js';
import { ConnectorRunner, type ConnectorTotals } from './connector-runner.js';
import { DeviceStats, type DeviceSnapshot } from './device-stats.js';
import { batchSizeWarning, resolveDeliveryOptions, type DeliveryOptionsInput } from './options.js';
import type { BreakerState, ConnectorHealth, PointRouter } from './types.js';

/** Lane of a point sent to an explicit connector without its own `priority`. */
export const DEFAULT_PRIORITY = 0;

/** One connector instance the pipeline delivers to. */
export interface PipelineConnector {
  /** Instance name from the config, e.g. `plant-a`; unique within the pipeline. */
  name: string;
  /** The plugin's default export. */
  definition: ConnectorDefinition;
  /** The plugin config, already validated: the output of `definition.configSchema.parse(...)`. */
  config: unknown;
  /** Batching, timeout, concurrency, retry, breaker and health-check settings; defaults fill the rest. */
  delivery?: DeliveryOptionsInput;
  /** TLS material loaded by the host, passed to the plugin as `ctx.tls`. */
  tls?: TlsMaterial;
  /** Queue lane settings for this connector (limits, when_full, ttl, order); queue defaults otherwise. */
  lane?: Partial<LaneSettings>;
}

export interface PipelineOptions {
  /** The durable queue; the pipeline never closes it (its owner does, after `stop`). */
  queue: DurableQueue;
  /** Picks connectors for routed ingest. Without one, a point goes to every connector. */
  router?: PointRouter;
  connectors: PipelineConnector[];
  /** pino-compatible logger; silent when absent. */
  logger?: Logger;
  /** prom-client registry for the pipeline's metrics; a new dedicated one when absent. */
  registry?: Registry;
  /** How often expired (TTL) points are moved to the dead-letter table. Default 5000 ms. */
  expireIntervalMs?: number;
}

export interface IngestOptions {
  /** Queue for this connector only, bypassing the router (REST `POST /api/cloud/connectors/{name}/data`). */
  connector?: string;
}

export interface IngestResult {
  /** Point copies durably queued, summed over connectors. */
  queued: number;
  /** Points no rule (and no default connector) selected: not queued anywhere. */
  unrouted: number;
  /** Points dropped by a full `drop_oldest` / `drop_newest` lane, per connector. */
  dropped: Record<string, number>;
}

/** Per-connector figures of {@link Pipeline.metricsSnapshot}. */
export interface ConnectorMetricsSnapshot extends ConnectorTotals {
  name: string;
  type: string;
  successRate: number;
  recentSuccessRate: number;
  responseTimeMs?: number;
  p99ResponseTimeMs?: number;
  /** Payload bytes acknowledged, when the connector reports them. */
  bytesSent?: number;
  queue: { depth: number; inFlight: number; oldestAgeSeconds: number; deadLetters: number };
  breaker: BreakerState;
  /** While the breaker is open: when it admits its half-open trial (epoch ms). */
  breakerTrialAt?: number;
  connected: boolean;
  lastSuccessAt?: number;
  lastFailureAt?: number;
}

/** The JSON behind `GET /api/cloud/metrics`. */
export interface PipelineMetricsSnapshot {
  /** Epoch ms when taken. */
  time: number;
  connectors: ConnectorMetricsSnapshot[];
  /** Ingested points per device and when each was last seen (epoch ms). */
  devices: Record<string, DeviceSnapshot>;
  unrouted: number;
}

/** Thrown by `ingest({ connector })` for a name the pipeline does not know. */
export class UnknownConnectorError extends Error {
  readonly code = 'BIFROST_ERR_UNKNOWN_CONNECTOR';
  constructor(
    readonly connector: string,
    known: readonly string[],
  ) {
    super(`[bifrost] unknown connector "${connector}" (configured: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownConnectorError';
  }
}

/** The delivery pipeline: routed, durable ingest and one independent delivery loop per connector. */
export interface Pipeline {
  /** Starts every connector's loop: connects in the background and delivers what is queued. */
  start(): void;
  /**
   * Stops leasing, lets in-flight batches finish within `deadlineMs` (default 10 s), releases what
   * is left (it stays queued), and closes the connectors. The queue stays open. Returns the points
   * released unfinished, per connector.
   */
  stop(opts?: { deadlineMs?: number }): Promise<{ released: Record<string, number> }>;
  /**
   * Routes `points` (or sends them to `opts.connector`) and queues every copy in one queue call, so
   * concurrent callers share a commit. Resolves once the points are durable for every selected
   * connector. Rejects with the queue's `QueueFullError` (nothing of this call queued: wait
   * `retryAfterMs` and retry, or answer 503 + Retry-After) or `QueueStorageError`, and with
   * {@link UnknownConnectorError} for an unknown `opts.connector`.
   */
  ingest(points: readonly DataPoint[], opts?: IngestOptions): Promise<IngestResult>;
  /** Wakes the loops after points were queued behind the pipeline's back (dead-letter replay). */
  notify(connector?: string): void;
  /**
   * An operator's reset of `connector`'s circuit breaker: closes it if open and lets its delivery loop
   * try at once (no waiting for the half-open trial or the retry pause). Returns false, changing
   * nothing, when the breaker was not open. Throws {@link UnknownConnectorError} for an unknown name.
   */
  resetBreaker(connector: string): boolean;
  health(): ConnectorHealth[];
  metricsSnapshot(): PipelineMetricsSnapshot;
  /** The registry holding the `bifrost_cloud_*` metrics (serve `await registry.metrics()` on `/metrics`). */
  readonly registry: Registry;
}

/**
 * Builds the delivery pipeline. Creates each connector through `definition.create(config, ctx)`
 * (no I/O there; a throw becomes a `ConfigError` prefixed `[bifrost] [type:name]`), applies lane
 * settings to the queue, and validates the delivery options (a `ConfigError` naming the connector
 * and the field). Nothing runs until {@link Pipeline.start}.
 *
 * @example
 * const pipeline = createPipeline({ queue, router, connectors: [{ name: 'plant-a', definition: mqtt, config }] });
 * pipeline.start();
 * await pipeline.ingest(parsePoints(body));
 * await pipeline.stop({ deadlineMs: 5000 });
 */
export function createPipeline(options: PipelineOptions): Pipeline {
  const { queue, router } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const registry = options.registry ?? new Registry();
  const runners = new Map<string, ConnectorRunner>();
  const devices = new DeviceStats();
  let unrouted = 0;
  let state: 'new' | 'running' | 'stopped' = 'new';
  let expireTimer: NodeJS.Timeout | undefined;

  const gaugeSources = (): ConnectorGaugeSource[] =>
    [...runners.values()].map((r) => {
      const s = queue.stats(r.name);
      return {
        connector: r.name,
        type: r.health.type,
        queued: s.points,
        oldestAgeSeconds: s.oldestEnqueuedAt ? Math.max(0, (Date.now() - s.oldestEnqueuedAt) / 1000) : 0,
        deadLetters: s.deadLetters,
        quarantined: s.quarantined,
        breaker: r.breaker.state,
      };
    });
  const metrics = new PipelineMetrics(registry, gaugeSources, () => queue.integrity());

  for (const c of options.connectors) {
    const label = `${c.definition.type}:${c.name}`;
    if (runners.has(c.name))
      throw new ConfigError(`connector name "${c.name}" is used twice`, {
        code: 'BIFROST_ERR_DUPLICATE_CONNECTOR',
        connector: label,
      });
    if (!isApiCompatible(c.definition.api))
      throw new ConfigError(
        `plugin was built for plugin API ${c.definition.api}, but this host implements ${PLUGIN_API_VERSION}; install a version of the plugin built for ${PLUGIN_API_VERSION.split('.')[0]}.x`,
        { code: 'BIFROST_ERR_PLUGIN_API', connector: label },
      );
    const delivery = resolveDeliveryOptions(c.delivery, c.definition.capabilities, label);
    const childLogger = logger.child({ connector: label });
    const batchWarning = batchSizeWarning(c.delivery?.batchSize, c.definition.capabilities);
    if (batchWarning) childLogger.warn({ batchSize: delivery.batchSize }, batchWarning);
    const closeSignal = new AbortController();
    let connector: Connector;
    try {
      connector = c.definition.create(c.config, {
        name: c.name,
        logger: childLogger,
        tls: c.tls,
        signal: closeSignal.signal,
      });
    } catch (err) {
      if (isBifrostError(err)) throw labelError(err, label);
      throw new ConfigError(`could not create the connector: ${err instanceof Error ? err.message : String(err)}`, {
        code: 'BIFROST_ERR_CONNECTOR_CREATE',
        cause: err,
        connector: label,
      });
    }
    if (c.lane) queue.configureLane(c.name, c.lane);
    runners.set(
      c.name,
      new ConnectorRunner({
        name: c.name,
        type: c.definition.type,
        connector,
        options: delivery,
        limits: {
          maxPoints: delivery.batchSize,
          maxBytes: connector.maxBatchBytes ?? c.definition.capabilities.maxBatchBytes,
          pointBytes: c.definition.pointBytes,
        },
        queue,
        metrics,
        logger: childLogger,
        closeSignal,
        perDeviceOrder: (connector.ordering ?? c.definition.capabilities.ordering) === 'per-device',
      }),
    );
  }

  /** The queue items of one ingest call and how many go to each connector; `missed` = points routed nowhere. */
  function planEnqueue(
    points: readonly DataPoint[],
    explicit: string | undefined,
  ): { items: EnqueueItem[]; counts: Map<string, number>; missed: number } {
    if (explicit !== undefined || !router) {
      const names = explicit !== undefined ? [explicit] : [...runners.keys()];
      const items = new Array<EnqueueItem>(points.length * names.length);
      let k = 0;
      for (const connector of names)
        for (const point of points) items[k++] = { connector, point, priority: point.priority ?? DEFAULT_PRIORITY };
      return { items, counts: new Map(names.map((n) => [n, points.length])), missed: names.length ? 0 : points.length };
    }
    const items: EnqueueItem[] = [];
    const counts = new Map<string, number>();
    let missed = 0;
    for (const point of points) {
      let routed = false;
      for (const t of router.route(point)) {
        if (!runners.has(t.connector)) {
          logger.warn({ connector: t.connector }, 'routing selected an unknown connector; point not queued for it');
          continue;
        }
        routed = true;
        items.push({ connector: t.connector, point, priority: t.priority });
        counts.set(t.connector, (counts.get(t.connector) ?? 0) + 1);
      }
      if (!routed) missed++;
    }
    return { items, counts, missed };
  }

  async function expire(): Promise<void> {
    try {
      const expired = await queue.expire();
      for (const [name, n] of Object.entries(expired)) if (n) runners.get(name)?.countDeadLettered(n, TTL_EXPIRED_CODE);
    } catch (err) {
      logger.error({ err }, 'could not expire queued points');
    }
  }

  return {
    registry,

    start() {
      if (state !== 'new') throw new Error(`[bifrost] pipeline cannot start: it is ${state}`);
      state = 'running';
      for (const r of runners.values()) r.start();
      expireTimer = setInterval(() => void expire(), options.expireIntervalMs ?? 5_000);
      expireTimer.unref();
    },

    async stop(opts = {}) {
      if (state === 'stopped') return { released: {} };
      const wasRunning = state === 'running';
      state = 'stopped';
      clearInterval(expireTimer);
      const released: Record<string, number> = {};
      if (wasRunning) {
        await Promise.all(
          [...runners.values()].map(async (r) => {
            released[r.name] = await r.stop(opts.deadlineMs ?? 10_000);
          }),
        );
      }
      return { released };
    },

    async ingest(points, opts = {}) {
      if (state === 'stopped') throw new Error('[bifrost] pipeline is stopped; points not accepted');
      if (opts.connector !== undefined && !runners.has(opts.connector))
        throw new UnknownConnectorError(opts.connector, [...runners.keys()]);
      const { items, counts, missed } = planEnqueue(points, opts.connector);
      const result = items.length ? await queue.enqueue(items) : { accepted: 0, dropped: {} };
      for (const [name, n] of counts) {
        const runner = runners.get(name)!;
        runner.countIngested(n, result.dropped[name] ?? 0);
        runner.notify();
      }
      if (missed) {
        unrouted += missed;
        metrics.unrouted.inc(missed);
      }
      devices.record(points);
      return { queued: result.accepted, unrouted: missed, dropped: result.dropped };
    },

    notify(connector) {
      for (const r of runners.values()) if (connector === undefined || r.name === connector) r.notify();
    },

    resetBreaker(connector) {
      const runner = runners.get(connector);
      if (!runner) throw new UnknownConnectorError(connector, [...runners.keys()]);
      return runner.resetBreaker();
    },

    health() {
      return [...runners.values()].map((r) => r.snapshotHealth());
    },

    metricsSnapshot() {
      const now = Date.now();
      const connectors = [...runners.values()].map((r): ConnectorMetricsSnapshot => {
        const h = r.snapshotHealth();
        const s = queue.stats(r.name);
        const snap: ConnectorMetricsSnapshot = {
          name: r.name,
          type: h.type,
          ...r.totals,
          successRate: h.successRate,
          recentSuccessRate: h.recentSuccessRate,
          queue: {
            depth: s.points,
            inFlight: s.inFlight,
            oldestAgeSeconds: s.oldestEnqueuedAt ? Math.max(0, (now - s.oldestEnqueuedAt) / 1000) : 0,
            deadLetters: s.deadLetters,
          },
          breaker: h.breaker,
          connected: h.connected,
        };
        if (h.responseTimeMs !== undefined) snap.responseTimeMs = h.responseTimeMs;
        if (h.p99ResponseTimeMs !== undefined) snap.p99ResponseTimeMs = h.p99ResponseTimeMs;
        if (h.bytesSent !== undefined) snap.bytesSent = h.bytesSent;
        if (h.lastSuccessAt !== undefined) snap.lastSuccessAt = h.lastSuccessAt;
        if (h.lastFailureAt !== undefined) snap.lastFailureAt = h.lastFailureAt;
        if (r.breaker.trialAt) snap.breakerTrialAt = r.breaker.trialAt;
        return snap;
      });
      return { time: now, connectors, devices: devices.snapshot(), unrouted };
    },
  };
}
