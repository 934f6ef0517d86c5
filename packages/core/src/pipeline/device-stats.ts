import type { DataPoint } from '../data-point.js';

/** What the pipeline knows about one device. */
export interface DeviceSnapshot {
  /** Points ingested from the device since start (or since it was last evicted). */
  ingested: number;
  /** Epoch ms of the device's latest ingest. */
  lastSeen: number;
}

/** Devices tracked at most; beyond that the least recently seen is forgotten (bounded memory). */
export const MAX_TRACKED_DEVICES = 10_000;

/**
 * Per-device ingest counts and last-seen times, served in the JSON metrics rather than as
 * Prometheus labels (device ids are unbounded). Keeps the {@link MAX_TRACKED_DEVICES} most recently
 * seen devices.
 */
export class DeviceStats {
  private readonly devices = new Map<string, DeviceSnapshot & { call: number }>();
  private calls = 0;

  constructor(private readonly max = MAX_TRACKED_DEVICES) {}

  record(points: readonly DataPoint[], now = Date.now()): void {
    const call = ++this.calls;
    for (const p of points) {
      const d = this.devices.get(p.deviceId);
      if (d?.call === call) {
        d.ingested++;
        continue;
      }
      // First point of this device in this call: re-insert so the map stays ordered by last sight
      // and its first key is the one to evict.
      if (d) this.devices.delete(p.deviceId);
      this.devices.set(p.deviceId, { ingested: (d?.ingested ?? 0) + 1, lastSeen: now, call });
      if (this.devices.size > this.max) this.devices.delete(this.devices.keys().next().value!);
    }
  }

  snapshot(): Record<string, DeviceSnapshot> {
    const out: Record<string, DeviceSnapshot> = {};
    for (const [id, d] of this.devices) out[id] = { ingested: d.ingested, lastSeen: d.lastSeen };
    return out;
  }
}
