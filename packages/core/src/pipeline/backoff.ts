import { ExponentialBackoff, type GeneratorFn, type IBackoff } from 'cockatiel';
import type { RetryPolicy } from './types.js';

/**
 * Full jitter: a delay drawn uniformly from [0, min(max, initial * multiplier^attempt)). Cockatiel's
 * own `fullJitterGenerator` always doubles; this one honours the configured multiplier.
 */
function fullJitter(random: () => number): GeneratorFn<number> {
  return (attempt = 0, opts) => [
    Math.floor(random() * Math.min(opts.maxDelay, opts.initialDelay * opts.exponent ** attempt)),
    attempt + 1,
  ];
}

/**
 * The retry schedule of one connector: exponential backoff with full jitter (also on the first
 * retry, so a fleet of gateways does not reconnect in lockstep after an outage), a server-given
 * wait honoured as a lower bound, and reset by the next success.
 */
export class RetrySchedule {
  private readonly factory: ExponentialBackoff<number>;
  private current: IBackoff<unknown> | undefined;
  private failures = 0;

  constructor(policy: RetryPolicy, random: () => number = Math.random) {
    this.factory = new ExponentialBackoff({
      generator: fullJitter(random),
      initialDelay: policy.initialDelayMs,
      exponent: policy.multiplier,
      maxDelay: policy.maxDelayMs,
    });
  }

  /** Failures since the last success. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** The wait before the next try, in ms; at least `retryAfterMs` when the server asked for it. */
  nextDelay(retryAfterMs?: number): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    this.failures++;
    return Math.max(this.current.duration, retryAfterMs ?? 0);
  }

  /** After a success: the next failure starts again from `initialDelayMs`. */
  reset(): void {
    this.current = undefined;
    this.failures = 0;
  }
}
