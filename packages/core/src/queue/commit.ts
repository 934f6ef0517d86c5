// Storing a group commit: what one transaction writes for a ChangeSet (new chunks, per-chunk
// removed bitmaps and attempts, chunks deleted when their last point is gone, dead letters added or
// removed) plus the settled chunks not stored yet, and, once it committed, applying the change set
// to the lanes and the chunk cache. The scheduling of commits and their waiters is ChunkedQueue's.
import { PRIORITIES, sum, type ChangeSet } from './change-set.js';
import type { ChunkCache } from './chunk-cache.js';
import type { ChunkStore, NewDeadLetter } from './chunk-store.js';
import type { Lanes } from './lanes.js';
import { LEASED } from './live-chunk.js';
import { isRemoved, setRemoved } from './removed-bitmap.js';

/** Writes `cs`, the unsaved chunks' state and the settled dead letters (runs inside the store's transaction). */
export function persist(
  store: ChunkStore,
  cs: ChangeSet,
  cache: ChunkCache,
  settledDeadLetters: readonly NewDeadLetter[],
): void {
  for (const chunk of cs.inserts) cs.insertedSeqs.push(store.insertChunk(chunk));
  for (const chunk of new Set([...cs.gone.keys(), ...cache.unsaved])) {
    const gone = cs.gone.get(chunk);
    let bitmap = chunk.removed;
    let count = chunk.gone;
    if (gone) {
      bitmap = bitmap.slice();
      for (const i of gone)
        if (!isRemoved(bitmap, i)) {
          setRemoved(bitmap, i);
          count++;
        }
    }
    if (count === chunk.points.length) {
      store.deleteChunk(chunk.seq);
      cs.deleted.push(chunk);
      continue;
    }
    store.writeChunkState(chunk.seq, bitmap, chunk.hasAttempts ? chunk.attempts : null);
  }
  const deadLetters = settledDeadLetters.length ? [...settledDeadLetters, ...cs.deadLetters] : cs.deadLetters;
  if (deadLetters.length) store.addDeadLetters(deadLetters);
  if (cs.removedDeadLetters.length) store.removeDeadLetters(cs.removedDeadLetters);
}

/** Applies a committed change set to memory: lanes, chunk states, the chunk cache. */
export function apply(cs: ChangeSet, lanes: Lanes, cache: ChunkCache): void {
  for (const chunk of cs.deleted) {
    const lane = lanes.get(chunk.connector);
    if (lane.oldestSeq === chunk.seq) lane.oldestStale = true;
  }
  for (const chunk of cache.unsaved) if (chunk.gone === chunk.points.length) cache.forget(chunk);
  cache.unsaved.clear();
  for (const [chunk, set] of cs.gone) {
    const lane = lanes.get(chunk.connector);
    // lane.leased holds PRIORITIES entries and chunk.priority is one of them.
    for (const i of set) {
      if (chunk.state[i] === LEASED) {
        chunk.leased--;
        lane.leased[chunk.priority]!--;
      } else chunk.available--;
      chunk.markGone(i);
    }
    if (chunk.gone === chunk.points.length) cache.forget(chunk);
  }
  // A new chunk stays parsed when nothing else waits in its lane (a consumer that keeps up leases
  // it next), or behind a backlog while the memory cache has room.
  for (let k = 0; k < cs.inserts.length; k++) {
    const c = cs.inserts[k];
    const seq = cs.insertedSeqs[k];
    if (!c || seq === undefined) throw new Error(`[bifrost] commit: new chunk ${k} has no stored seq`);
    const lane = lanes.get(c.connector);
    // lane.points and lane.leased hold PRIORITIES entries and c.priority is one of them.
    const idle = lane.points[c.priority]! - lane.leased[c.priority]! <= 0;
    cache.keepNew(c, seq, idle, idle ? 0 : sum(c.sizes));
  }
  for (const [connector, d] of cs.laneDelta) {
    const lane = lanes.get(connector);
    // All four arrays hold PRIORITIES entries.
    for (let p = 0; p < PRIORITIES; p++) {
      lane.points[p]! += d.points[p]!;
      lane.bytes[p]! += d.bytes[p]!;
    }
    // New chunks are younger than the oldest one, unless the lane was empty.
    if (lane.oldest === undefined) lane.oldestStale = true;
  }
  for (const [c, n] of cs.dropped) lanes.get(c).dropped += n;
  for (const [c, n] of cs.expired) lanes.get(c).expired += n;
  for (const d of cs.deadLetters) lanes.get(d.connector).deadLetters++;
  cache.trim();
}
