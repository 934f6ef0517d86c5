import type { LeaseHandle } from './lease-handle.js';

/**
 * One of the per-device streams of a connector with `ordering: 'per-device'`: the devices hashed to
 * it are written one batch at a time, in queue order, as Kafka keeps order per partition.
 */
export interface DeviceStream {
  /** The batch being written, until the remote side acknowledged it. */
  writing: LeaseHandle | undefined;
  /** Leased batches of this stream's devices, in queue order, behind `writing`. */
  waiting: LeaseHandle[];
  /** Bumped when the stream gives points back: a lease taken before then may hold newer points of its devices. */
  epoch: number;
}

export function createStreams(n: number): DeviceStream[] {
  return Array.from({ length: n }, () => ({ writing: undefined, waiting: [], epoch: 0 }));
}

/** The stream of a device (FNV-1a of its id): a device always maps to the same stream. */
export function streamOf(deviceId: string, streams: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) h = Math.imul(h ^ deviceId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % streams;
}
