// createMemoryQueue: ChunkedQueue over the memory store, committing within the current turn.
import { ChunkedQueue } from './chunked-queue.js';
import { MemoryChunkStore } from './memory-store.js';
import type { DurableQueue, QueueOptions } from './types.js';

/**
 * A queue kept in process memory, for users who choose speed over durability: everything queued is
 * lost when the process exits. Same behaviour as the SQLite queue otherwise (lanes, priorities,
 * leases, limits, ttl, dead letters); `sync`, `compression` and `memoryCacheBytes` do not apply.
 */
export function createMemoryQueue(opts: QueueOptions = {}): DurableQueue {
  // Nothing to wait for on disk: calls of the same turn still share a commit, without an extra turn.
  return new ChunkedQueue(new MemoryChunkStore(), {
    defaults: opts.defaults,
    schedule: queueMicrotask,
    memoryCacheBytes: 0,
  });
}
