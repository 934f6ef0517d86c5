import { describe, expect, it } from 'vitest';
import { ChunkedQueue } from '../src/queue/chunked-queue.js';
import { MemoryChunkStore } from '../src/queue/memory-store.js';
import type { ChunkBody, ChunkMeta } from '../src/queue/chunk-store.js';
import type { Lease } from '../src/queue/types.js';
import { items } from './queue.suite.js';

/** A store that counts how often the queue reads a chunk back or scans a lane. */
class CountingStore extends MemoryChunkStore {
  reads = 0;
  scans = 0;
  override readChunk(seq: number): ChunkBody {
    this.reads++;
    return super.readChunk(seq);
  }
  override scanLane(
    connector: string,
    priority: number,
    descending: boolean,
    afterSeq: number | undefined,
    limit: number,
  ): ChunkMeta[] {
    this.scans++;
    return super.scanLane(connector, priority, descending, afterSeq, limit);
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

describe('lease position', () => {
  it('leases on from where the last lease stopped, without scanning the lane from its start', async () => {
    const store = new CountingStore();
    const queue = new ChunkedQueue(store, { schedule: queueMicrotask });
    const queued = [];
    for (let c = 0; c < 20; c++) {
      const chunk = items('a', 50);
      queued.push(...chunk.map((i) => i.point.id));
      await queue.enqueue(chunk);
    }
    store.scans = 0;
    // Four batches of 10 in flight; every 7th batch is handed back instead of acknowledged.
    const inFlight: Lease[] = [];
    const delivered: string[] = [];
    let settled = 0;
    for (;;) {
      while (inFlight.length < 4) {
        const lease = await queue.lease('a', 10);
        if (!lease) break;
        inFlight.push(lease);
      }
      const oldest = inFlight.shift();
      if (!oldest) break;
      if (++settled % 7 === 0) {
        await queue.settle(oldest, { acked: [] });
      } else {
        delivered.push(...oldest.points.map((p) => p.id));
        await queue.settle(oldest, { acked: 'all' });
      }
    }
    await queue.close();
    expect(delivered.sort()).toEqual([...queued].sort());
    expect(settled).toBeGreaterThan(100);
    // Each hand-back moves the lease position back once; otherwise the next chunk comes from memory.
    expect(store.scans).toBeLessThan(settled / 4);
  });
});
