// Points the core benches feed the queue and pipeline with (not a bench itself: `_` files are skipped).
import type { DataPoint } from '../dist/index.js';

let serial = 0;

/** A typical reading of one of 50 devices, with a unique, time-ordered-looking id. */
export function benchPoint(): DataPoint {
  const n = serial++;
  return {
    id: `0190f3a2-7c1d-7000-8000-${n.toString(16).padStart(12, '0')}`,
    deviceId: `PLC${String(n % 50).padStart(3, '0')}`,
    tagName: 'temperature',
    value: 20 + (n % 1000) / 100,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000 + n,
    unit: 'C',
  };
}

/** `n` points of {@link benchPoint}. */
export function benchPoints(n: number): DataPoint[] {
  return Array.from({ length: n }, benchPoint);
}
