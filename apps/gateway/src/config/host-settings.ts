import type { DeliveryOptionsInput, LaneSettings, QueueOptions } from '@bifrost/core/host';
import type { ConnectorEntry, GatewayConfig } from './schema.js';

type Lane = NonNullable<ConnectorEntry['queue']>;

function laneFrom(l: Lane | undefined, maxPointsAlias: number | undefined): Partial<LaneSettings> {
  const out: Partial<LaneSettings> = {};
  const maxPoints = l?.max_points ?? maxPointsAlias;
  if (maxPoints !== undefined) out.maxPoints = maxPoints;
  if (l?.max_bytes !== undefined) out.maxBytes = l.max_bytes;
  if (l?.when_full !== undefined) out.whenFull = l.when_full;
  if (l?.ttl !== undefined) out.ttlMs = l.ttl;
  if (l?.order !== undefined) out.order = l.order;
  return out;
}

/** Where the durable queue lives (directory), or undefined for a memory-only queue. */
export function queueDirectory(cfg: GatewayConfig): string | undefined {
  if (cfg.cloud.queue.memory_only) return undefined;
  return cfg.cloud.queue.path ?? cfg.cloud.buffer?.persistent_path;
}

/** Gateway-wide queue options: sync mode, compression and default lane settings. */
export function queueOptions(cfg: GatewayConfig): QueueOptions {
  const q = cfg.cloud.queue;
  const opts: QueueOptions = {
    sync: q.sync,
    compression: q.compression,
    defaults: laneFrom(q, cfg.cloud.buffer?.max_size),
  };
  if (q.sync_interval !== undefined) opts.syncIntervalMs = q.sync_interval;
  if (q.memory_cache_bytes !== undefined) opts.memoryCacheBytes = q.memory_cache_bytes;
  return opts;
}

/** Lane settings of one connector (its own over the gateway-wide ones, which the queue applies). */
export function connectorLane(entry: ConnectorEntry): Partial<LaneSettings> {
  return laneFrom(entry.queue, entry.buffer_size);
}

/**
 * Delivery options of one connector from the seed's fields and their newer spellings:
 * `batch_size`, `flush_interval` (`cloud.batch_timeout`), `timeout`, `retry_delay` (`retry.initial`),
 * `retry_count` (`breaker.failure_threshold`), `health_check_interval`, `poison`.
 */
export function deliveryOptions(cfg: GatewayConfig, entry: ConnectorEntry): DeliveryOptionsInput {
  const c = cfg.cloud;
  const out: DeliveryOptionsInput = {};
  const batchSize = entry.batch_size ?? c.batch_size;
  if (batchSize !== undefined) out.batchSize = batchSize;
  const flush = entry.flush_interval ?? c.batch_timeout;
  if (flush !== undefined) out.flushIntervalMs = flush;
  if (entry.timeout !== undefined) out.timeoutMs = entry.timeout;
  if (entry.max_in_flight !== undefined) out.maxInFlight = entry.max_in_flight;
  if (c.health_check_interval !== undefined) out.healthCheckIntervalMs = c.health_check_interval;

  const retry = { ...c.retry, ...entry.retry };
  const r: NonNullable<DeliveryOptionsInput['retry']> = {};
  const initial = entry.retry?.initial ?? entry.retry_delay ?? c.retry?.initial;
  if (initial !== undefined) r.initialDelayMs = initial;
  if (retry.multiplier !== undefined) r.multiplier = retry.multiplier;
  if (retry.max !== undefined) r.maxDelayMs = retry.max;
  if (retry.max_elapsed !== undefined) r.maxElapsedMs = retry.max_elapsed;
  if (Object.keys(r).length) out.retry = r;

  const b: NonNullable<DeliveryOptionsInput['breaker']> = {};
  const threshold =
    entry.breaker?.failure_threshold ??
    (entry.retry_count ? entry.retry_count : undefined) ??
    c.breaker?.failure_threshold;
  if (threshold !== undefined) b.failureThreshold = threshold;
  const reset = entry.breaker?.reset ?? c.breaker?.reset;
  if (reset !== undefined) b.resetMs = reset;
  if (Object.keys(b).length) out.breaker = b;

  const poison = { ...c.poison, ...entry.poison };
  if (Object.keys(poison).length) out.poison = poison;
  return out;
}
