import type { DataPoint } from '../data-point.js';

/** What the pipeline knows about one device. */
export interface DeviceSnapshot {
  /** Points ingested from the device since start. */
  ingested: number;
  /** Epoch ms of the device's latest ingest. */
  lastSeen: number;
}

/** Per-device ingest counts and last-seen times (served in the JSON metrics, not as Prometheus labels). */
export class DeviceStats {
  private readonly devices = new Map<string, DeviceSnapshot>();

  record(points: readonly DataPoint[], now = Date.now()): void {
    for (const p of points) {
      const d = this.devices.get(p.deviceId);
      if (d) {
        d.ingested++;
        d.lastSeen = now;
      } else {
        this.devices.set(p.deviceId, { ingested: 1, lastSeen: now });
      }
    }
  }

  snapshot(): Record<string, DeviceSnapshot> {
    const out: Record<string, DeviceSnapshot> = {};
    for (const [id, d] of this.devices) out[id] = { ...d };
    return out;
  }
}
