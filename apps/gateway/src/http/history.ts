import type { BreakerState, PipelineMetricsSnapshot } from '@bifrost/core/host';

/** One connector in a {@link HistorySample}. */
export interface ConnectorSample {
  name: string;
  /** Totals since start. */
  sent: number;
  failed: number;
  deadLettered: number;
  bytesSent?: number;
  /** Points acknowledged per second since the previous sample (absent in the first sample). */
  sentPerSecond?: number;
  /** Payload bytes acknowledged per second since the previous sample, when the connector reports bytes. */
  bytesPerSecond?: number;
  queueDepth: number;
  oldestAgeSeconds: number;
  deadLetters: number;
  breaker: BreakerState;
}

/** One point of the status history served at `GET /api/cloud/history`. */
export interface HistorySample {
  /** Epoch ms when taken. */
  time: number;
  connectors: ConnectorSample[];
}

/** The JSON behind `GET /api/cloud/history`: oldest sample first. */
export interface HistoryReport {
  intervalMs: number;
  windowMs: number;
  samples: HistorySample[];
}

export interface HistoryOptions {
  /** Time between samples. Default 5 s. */
  intervalMs?: number;
  /** How far back the history reaches. Default 15 min. */
  windowMs?: number;
}

/**
 * A short history of the pipeline's metrics for the status page: a ring buffer of samples taken
 * every `intervalMs`, holding the last `windowMs`. The page draws its charts from it at once
 * instead of starting empty, and a rate is right from the first paint.
 */
export class MetricsHistory {
  readonly intervalMs: number;
  readonly windowMs: number;
  private readonly ring: HistorySample[] = [];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly snapshot: () => PipelineMetricsSnapshot,
    opts: HistoryOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 5_000;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
  }

  private get capacity(): number {
    return Math.max(1, Math.floor(this.windowMs / this.intervalMs));
  }

  /** Takes a sample now and then every `intervalMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Adds one sample from the current metrics, overwriting the oldest once the window is full. */
  sample(): void {
    const snap = this.snapshot();
    const prev = this.latest();
    const dt = prev ? (snap.time - prev.time) / 1000 : 0;
    const sample: HistorySample = {
      time: snap.time,
      connectors: snap.connectors.map((c) => {
        const s: ConnectorSample = {
          name: c.name,
          sent: c.sent,
          failed: c.failed,
          deadLettered: c.deadLettered,
          queueDepth: c.queue.depth,
          oldestAgeSeconds: c.queue.oldestAgeSeconds,
          deadLetters: c.queue.deadLetters,
          breaker: c.breaker,
        };
        if (c.bytesSent !== undefined) s.bytesSent = c.bytesSent;
        const before = prev?.connectors.find((p) => p.name === c.name);
        if (before && dt > 0) {
          s.sentPerSecond = Math.max(0, (c.sent - before.sent) / dt);
          if (c.bytesSent !== undefined && before.bytesSent !== undefined)
            s.bytesPerSecond = Math.max(0, (c.bytesSent - before.bytesSent) / dt);
        }
        return s;
      }),
    };
    if (this.ring.length < this.capacity) this.ring.push(sample);
    else this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The samples held, oldest first. */
  report(): HistoryReport {
    const samples =
      this.ring.length < this.capacity
        ? [...this.ring]
        : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return { intervalMs: this.intervalMs, windowMs: this.windowMs, samples };
  }

  private latest(): HistorySample | undefined {
    return this.ring.length ? this.ring[(this.next - 1 + this.capacity) % this.capacity] : undefined;
  }
}
