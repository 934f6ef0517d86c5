import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { ConnectorCapabilities } from '../plugin.js';
import type { DeliveryOptions } from './types.js';

/**
 * Delivery defaults: batches of 1000 (or the connector's `maxBatch` when smaller) flushed at least
 * every second, a 30 s write timeout, two batches in flight, backoff from 1 s doubling up to 60 s, a
 * batch held for retries at most 5 min before it goes back to the queue, a breaker that opens after
 * 5 consecutive failures and tries again after 30 s, a health probe every 30 s, and poison isolation
 * on (2 strikes, see `PoisonPolicy`). A full batch goes at once, so the batch size costs no latency
 * under load; below 1000 points a second a point waits at most the flush interval.
 */
export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = Object.freeze({
  batchSize: 1_000,
  flushIntervalMs: 1_000,
  timeoutMs: 30_000,
  maxInFlight: 2,
  retry: Object.freeze({ initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 60_000, maxElapsedMs: 300_000 }),
  breaker: Object.freeze({ failureThreshold: 5, resetMs: 30_000 }),
  healthCheckIntervalMs: 30_000,
  poison: Object.freeze({ isolate: true, strikes: 2 }),
});

const positiveInt = z.number().int().positive();
const nonNegative = z.number().finite().nonnegative();

const deliverySchema = z
  .object({
    batchSize: positiveInt,
    flushIntervalMs: nonNegative,
    timeoutMs: z.number().finite().positive(),
    maxInFlight: positiveInt,
    retry: z
      .object({
        initialDelayMs: z.number().finite().positive(),
        multiplier: z.number().finite().min(1),
        maxDelayMs: z.number().finite().positive(),
        maxElapsedMs: nonNegative,
      })
      .strict(),
    breaker: z.object({ failureThreshold: positiveInt, resetMs: z.number().finite().positive() }).strict(),
    healthCheckIntervalMs: z.number().finite().positive(),
    poison: z.object({ isolate: z.boolean(), strikes: positiveInt }).strict(),
  })
  .strict();

/** Delivery options with nested retry / breaker / poison policies given partially. */
export type DeliveryOptionsInput = Partial<Omit<DeliveryOptions, 'retry' | 'breaker' | 'poison'>> & {
  retry?: Partial<DeliveryOptions['retry']>;
  breaker?: Partial<DeliveryOptions['breaker']>;
  poison?: Partial<DeliveryOptions['poison']>;
};

/**
 * The warning for a configured `batch_size` above the connector's `maxBatch` (batches are capped
 * at `maxBatch`), or undefined. Shown at startup and by `bifrost validate`.
 */
export function batchSizeWarning(
  batchSize: number | undefined,
  capabilities: ConnectorCapabilities,
): string | undefined {
  if (batchSize === undefined || batchSize <= capabilities.maxBatch) return undefined;
  return `batch_size ${batchSize} is above this connector's largest batch (${capabilities.maxBatch}); batches are capped at ${capabilities.maxBatch} points`;
}

/**
 * The delivery defaults of a connector: {@link DEFAULT_DELIVERY_OPTIONS}, with the connector's
 * `defaultMaxInFlight` when it declares one.
 */
export function connectorDeliveryDefaults(capabilities: ConnectorCapabilities): DeliveryOptions {
  if (capabilities.defaultMaxInFlight === undefined) return DEFAULT_DELIVERY_OPTIONS;
  return { ...DEFAULT_DELIVERY_OPTIONS, maxInFlight: capabilities.defaultMaxInFlight };
}

/**
 * Fills unset fields from {@link connectorDeliveryDefaults}, validates the result and applies the
 * connector's capabilities: `batchSize` is capped at `maxBatch`. (For `ordering: 'per-device'` the
 * runner splits devices over `maxInFlight` streams of one batch each.) Throws a {@link ConfigError}
 * naming the field, e.g. `delivery.retry.multiplier`.
 */
export function resolveDeliveryOptions(
  input: DeliveryOptionsInput | undefined,
  capabilities: ConnectorCapabilities,
  label: string,
): DeliveryOptions {
  const defaults = connectorDeliveryDefaults(capabilities);
  const merged = {
    ...defaults,
    ...input,
    retry: { ...defaults.retry, ...input?.retry },
    breaker: { ...defaults.breaker, ...input?.breaker },
    poison: { ...defaults.poison, ...input?.poison },
  };
  const res = deliverySchema.safeParse(merged);
  if (!res.success) {
    const detail = res.error.issues.map((i) => `delivery.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid delivery options: ${detail}`, {
      code: 'BIFROST_ERR_DELIVERY_OPTIONS',
      connector: label,
    });
  }
  const opts = res.data;
  return {
    ...opts,
    batchSize: Math.min(opts.batchSize, capabilities.maxBatch),
  };
}
