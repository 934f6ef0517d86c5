import { isBrokenCircuitError } from 'cockatiel';
import { classifyError, type BifrostError } from '../errors.js';
import type { Connector, Logger } from '../plugin.js';
import type { ConnectorBreaker } from './breaker.js';
import type { DeliveryRecorder } from './delivery-recorder.js';
import { withTimeout } from './timeout.js';

export const CONNECT_TIMEOUT_CODE = 'BIFROST_ERR_CONNECT_TIMEOUT';
export const HEALTH_CHECK_TIMEOUT_CODE = 'BIFROST_ERR_HEALTH_CHECK_TIMEOUT';

export interface ConnectionKeeperDeps {
  label: string;
  connector: Connector;
  timeoutMs: number;
  breaker: ConnectorBreaker;
  recorder: DeliveryRecorder;
  logger: Logger;
  /** Whether points are queued (leased or not): then the next write is the reconnect test. */
  hasQueued(): boolean;
  /** No attempt before this time (the runner's backoff). */
  pauseUntil(): number;
  stopped(): boolean;
  /** A connect outside a write failed: the runner's failure bookkeeping (backoff, health). */
  connectFailed(err: BifrostError, generation: number): void;
  /** The runner's failure generation when the connect started (one backoff step per outage). */
  generation(): number;
  /** Something changed that the delivery loop should look at. */
  notify(): void;
}

/**
 * Keeps one connector connected: a single connect at a time (with the timeout), connects outside
 * writes through the breaker, and the periodic health tick (reconnect when down, else the
 * connector's own probe).
 */
export class ConnectionKeeper {
  private connecting: Promise<void> | undefined;

  constructor(private readonly deps: ConnectionKeeperDeps) {}

  private get health() {
    return this.deps.recorder.health;
  }

  /** Connects unless connected; concurrent callers share one attempt. */
  ensureConnected(): Promise<void> {
    if (this.health.connected) return Promise.resolve();
    this.connecting ??= this.connectOnce().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    try {
      await withTimeout(() => this.deps.connector.connect(), this.deps.timeoutMs, 'connect', CONNECT_TIMEOUT_CODE);
    } catch (e) {
      const err = classifyError(e, this.deps.label);
      this.deps.recorder.connectFailed(err);
      throw err;
    }
    this.deps.recorder.connectSucceeded();
    this.deps.logger.info({}, 'connected');
  }

  /** A connect outside a write (start, health tick, half-open trial), counted by the breaker. */
  async connectThroughBreaker(): Promise<void> {
    if (this.deps.stopped()) return;
    const generation = this.deps.generation();
    try {
      await this.deps.breaker.execute(() => this.ensureConnected());
    } catch (err) {
      if (isBrokenCircuitError(err)) return;
      this.deps.connectFailed(classifyError(err, this.deps.label), generation);
    } finally {
      this.deps.notify();
    }
  }

  /** Periodic: reconnect when disconnected and allowed, else run the connector's probe. */
  async checkHealth(): Promise<void> {
    if (this.deps.stopped()) return;
    if (!this.health.connected) {
      // With data queued (leased or not) the delivery loop's next write reconnects and is the real
      // test: a connect that succeeds here would count as a breaker success between failed writes
      // (so writes that keep failing would never open it) or steal the half-open trial from a write.
      const queued = this.deps.hasQueued();
      if (!queued && Date.now() >= this.deps.pauseUntil() && this.deps.breaker.admits())
        await this.connectThroughBreaker();
      return;
    }
    const probe = this.deps.connector.healthCheck?.bind(this.deps.connector);
    if (!probe) return;
    const result = await withTimeout(probe, this.deps.timeoutMs, 'health check', HEALTH_CHECK_TIMEOUT_CODE).catch(
      (err: unknown) => ({ ok: false, detail: classifyError(err, this.deps.label).message }),
    );
    this.health.probeResult(result.ok, result.detail);
    if (!result.ok && !this.deps.stopped()) {
      this.deps.logger.warn({ detail: result.detail }, 'health check failed; reconnecting');
      this.health.connected = false;
      await this.connectThroughBreaker();
    }
  }
}
