import { describe, expect, it } from 'vitest';
import { ChunkedQueue } from '../src/queue/chunked-queue.js';
import { MemoryChunkStore } from '../src/queue/memory-store.js';
import type { ChunkBody } from '../src/queue/chunk-store.js';
import { items } from './queue.suite.js';

/** A store that counts how often the queue reads a chunk back. */
class CountingStore extends MemoryChunkStore {
  reads = 0;
  override readChunk(seq: number): ChunkBody {
    this.reads++;
    return super.readChunk(seq);
  }
}

/** Enqueues `chunks` separate commits of `size` points each, then leases and acks them all. */
async function backlogThenDrain(memoryCacheBytes: number, chunks: number, size: number) {
  const store = new CountingStore();
  const queue = new ChunkedQueue(store, { schedule: queueMicrotask, memoryCacheBytes });
  for (let c = 0; c < chunks; c++) await queue.enqueue(items('a', size));
  const bytes = queue.stats('a').bytes;
  let delivered = 0;
  for (let lease = await queue.lease('a', size); lease; lease = await queue.lease('a', size)) {
    delivered += lease.points.length;
    await queue.settle(lease, { acked: 'all' });
  }
  await queue.close();
  return { reads: store.reads, delivered, bytes };
}

describe('memory cache of new chunks', () => {
  it('delivers a backlog that fits the cache without reading a chunk back', async () => {
    const r = await backlogThenDrain(8 * 1024 * 1024, 20, 50);
    expect(r.delivered).toBe(1000);
    expect(r.reads).toBe(0);
  });

  it('without the cache, every chunk behind the first is read back', async () => {
    const r = await backlogThenDrain(0, 20, 50);
    expect(r.delivered).toBe(1000);
    // The first chunk found its lane empty and stays parsed for the consumer that keeps up.
    expect(r.reads).toBe(19);
  });

  it('keeps the oldest chunks of a backlog within the budget and reads the rest back', async () => {
    const probe = await backlogThenDrain(0, 1, 50);
    const chunkBytes = probe.bytes;
    // Room for 5 chunks behind the first one (which is kept regardless: its lane was empty).
    const r = await backlogThenDrain(Math.floor(chunkBytes * 5.5), 20, 50);
    expect(r.delivered).toBe(1000);
    expect(r.reads).toBe(14);
  });
});
