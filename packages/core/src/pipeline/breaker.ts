import { type CircuitBreakerPolicy, CircuitState, circuitBreaker, handleWhen, type IBreaker } from 'cockatiel';
import { isBifrostError, type ErrorKind } from '../errors.js';
import type { BreakerPolicy, BreakerState } from './types.js';

/** Error kinds that say the remote side (or our access to it) is failing, not the data. */
const BREAKER_KINDS: ReadonlySet<ErrorKind> = new Set(['transient', 'capacity', 'auth', 'config']);
/** Error kinds retrying will not fix: the breaker opens at once instead of after the threshold. */
const FATAL_KINDS: ReadonlySet<ErrorKind> = new Set(['auth', 'config']);

function kindOf(err: unknown): ErrorKind | undefined {
  return isBifrostError(err) ? err.kind : undefined;
}

/**
 * Cockatiel's consecutive-failure counting, plus an immediate open on an auth or config error
 * (bad credentials do not get better by retrying them `failureThreshold` times).
 */
class ConsecutiveOrFatalBreaker implements IBreaker {
  state = 0;
  constructor(
    private readonly threshold: number,
    private readonly lastError: () => unknown,
  ) {}
  success(): void {
    this.state = 0;
  }
  failure(): boolean {
    this.state++;
    const kind = kindOf(this.lastError());
    return this.state >= this.threshold || (kind !== undefined && FATAL_KINDS.has(kind));
  }
}

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Open]: 'open',
  [CircuitState.Isolated]: 'open',
};

/**
 * The circuit breaker of one connector (a cockatiel `CircuitBreakerPolicy`). It counts failed
 * connects and writes (transient, capacity, auth, config; poison points do not count), opens after
 * `failureThreshold` consecutive failures or at once on an auth/config error, and after `resetMs`
 * lets one trial through (half-open): success closes it, failure opens it again. While it is not
 * closed the delivery loop pauses; nothing is dropped.
 */
export class ConnectorBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly counter: ConsecutiveOrFatalBreaker;
  private openedAt = 0;
  private resetting = false;

  constructor(
    private readonly opts: BreakerPolicy,
    onChange?: (state: BreakerState) => void,
  ) {
    this.counter = new ConsecutiveOrFatalBreaker(opts.failureThreshold, () => {
      const last = this.policy.lastFailure;
      return last && 'error' in last ? last.error : undefined;
    });
    this.policy = circuitBreaker(
      handleWhen((err) => BREAKER_KINDS.has(kindOf(err) ?? 'transient')),
      { halfOpenAfter: opts.resetMs, breaker: this.counter },
    );
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
    });
    if (onChange)
      this.policy.onStateChange((s) => {
        if (!this.resetting) onChange(STATE_NAMES[s]);
      });
  }

  get state(): BreakerState {
    return STATE_NAMES[this.policy.state];
  }

  /** When an open breaker admits its half-open trial (epoch ms); 0 when closed. */
  get trialAt(): number {
    return this.policy.state === CircuitState.Open ? this.openedAt + this.opts.resetMs : 0;
  }

  /** True when a call would run now: closed, or open with the reset time passed (the trial). */
  admits(now = Date.now()): boolean {
    const s = this.policy.state;
    return s === CircuitState.Closed || (s === CircuitState.Open && now >= this.trialAt);
  }

  /**
   * An operator's reset: closes an open breaker now, with its failure count cleared, instead of
   * waiting for the trial. Returns false and changes nothing unless the breaker is open (a
   * half-open trial in flight decides by itself).
   */
  reset(): boolean {
    if (this.policy.state !== CircuitState.Open) return false;
    this.counter.success();
    // Cockatiel closes a breaker only through a trial or an isolation ending; the passing isolated
    // state is not reported, so `onChange` sees open -> closed.
    this.resetting = true;
    const isolation = this.policy.isolate();
    this.resetting = false;
    isolation.dispose();
    return true;
  }

  /**
   * Runs `fn` through the breaker. Throws cockatiel's `BrokenCircuitError` without calling `fn`
   * when the breaker is open (check {@link admits} first); while a half-open trial runs, waits for
   * its verdict first.
   */
  execute<T>(fn: () => Promise<T>): Promise<T> {
    return this.policy.execute(fn);
  }
}
