import type { DataPoint, Logger } from '@bifrost/core';

/** A tag's latest reading as it goes in the reported properties. */
export interface ReportedReading {
  value: unknown;
  quality: string;
  timestamp: number;
}

/** Reported properties: device -> tag -> latest reading. */
export type ReportedPatch = Record<string, Record<string, ReportedReading>>;

/** Sends one reported-properties patch; resolves on IoT Hub's 204 (what the SDK's `reported.update` does). */
export type PatchReported = (patch: ReportedPatch) => Promise<void>;

/**
 * A twin property name IoT Hub accepts: no `.`, `$`, space or control character
 * (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-device-twins#tags-and-properties-format),
 * each written as `_`.
 */
export function twinPropertyName(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what IoT Hub forbids
  return name.replace(/[.$ \u0000-\u001f\u007f-\u009f]/g, '_') || '_';
}

/**
 * Coalesces acknowledged points into the latest reading per device and tag and patches them into
 * the twin's reported properties every interval, off the telemetry path: a write only records its
 * points; a failed patch is kept (newer readings win) for the next interval.
 */
export class TwinReporter {
  private pending: ReportedPatch = {};
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  /** Readings waiting for the next patch. */
  get size(): number {
    return this.count;
  }

  /** Records acknowledged points (the newest reading of each device and tag is kept). */
  note(points: readonly DataPoint[]): void {
    for (const p of points) this.put(twinPropertyName(p.deviceId), twinPropertyName(p.tagName), p);
  }

  private put(device: string, tag: string, r: ReportedReading): void {
    const tags = (this.pending[device] ??= {});
    const old = tags[tag];
    if (old && old.timestamp > r.timestamp) return;
    if (!old) this.count++;
    tags[tag] = { value: r.value, quality: r.quality, timestamp: r.timestamp };
  }

  /** Patches every interval through `patch` until {@link stop}. */
  start(patch: PatchReported): void {
    this.stop();
    this.timer = setInterval(() => void this.flush(patch), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends what is pending as one patch (one flush at a time); on failure it is kept for the next one. */
  flush(patch: PatchReported): Promise<void> {
    if (this.flushing || this.count === 0) return this.flushing ?? Promise.resolve();
    const sent = this.pending;
    this.pending = {};
    this.count = 0;
    this.flushing = patch(sent)
      .then(() => this.logger.debug({ devices: Object.keys(sent).length }, 'twin reported properties patched'))
      .catch((err: unknown) => {
        for (const [device, tags] of Object.entries(sent))
          for (const [tag, r] of Object.entries(tags)) this.put(device, tag, r);
        this.logger.warn(
          { err: (err as Error)?.message ?? String(err) },
          'twin reported-properties patch failed; retried at the next interval',
        );
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }
}
