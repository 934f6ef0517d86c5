// Expiry (TTL) and dead letters: what `expire()` and `replayDeadLetters()` change. Owns the TTL
// dead-letter code, finding the unleased points older than their lane's `ttl` (oldest chunks first)
// and turning them into dead letters, and rebuilding replayed dead letters into chunks of their lane
// and priority. Dead letters of settled leases are recorded by leases.ts; listing, purging and
// storing them is the store's.
import { PRIORITIES, sum, type ChangeSet } from './change-set.js';
import type { ChunkCache } from './chunk-cache.js';
import { encodeChunk } from './chunk-codec.js';
import type { StoredDeadLetter } from './chunk-store.js';
import type { Lanes } from './lanes.js';

/** Dead-letter code of points whose `ttl` ran out while queued. */
export const TTL_EXPIRED_CODE = 'BIFROST_ERR_TTL_EXPIRED';

/**
 * Removes in `cs` every unleased point queued at or before `now - ttl` of each lane with a `ttl`,
 * as a dead letter with {@link TTL_EXPIRED_CODE}, counted per connector in `cs.expired`. Throws
 * what the store throws while reading chunks.
 */
export function collectExpired(lanes: Lanes, cache: ChunkCache, cs: ChangeSet, now: number): void {
  for (const [connector, lane] of lanes.byConnector) {
    const ttl = lane.settings.ttlMs;
    if (!ttl) continue;
    for (let p = 0; p < PRIORITIES; p++) {
      // lane.points and lane.leased hold PRIORITIES entries; i below is a point index of the chunk,
      // and points and attempts have one entry per point.
      if (lane.points[p]! - lane.leased[p]! <= 0) continue;
      cache.forEachOldest(
        connector,
        p,
        cs,
        (meta) => meta.enqueuedAt <= now - ttl,
        (chunk, i) => {
          cs.remove(chunk, i);
          cs.count(cs.expired, connector, 1);
          cs.deadLetters.push({
            connector,
            priority: p,
            point: chunk.points[i]!,
            code: TTL_EXPIRED_CODE,
            reason: `not delivered within ttl ${ttl} ms`,
            attempts: chunk.attempts[i]!,
            time: now,
          });
          return true;
        },
      );
    }
  }
}

/**
 * Puts dead letters back in `cs` as new chunks, one per (connector, priority), keeping their
 * attempts, and removes them from the dead-letter table.
 */
export function replayInto(rows: readonly StoredDeadLetter[], cs: ChangeSet, now: number): void {
  const groups = new Map<string, StoredDeadLetter[]>();
  for (const r of rows) {
    const key = `${r.connector}\u0000${r.priority}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  for (const g of groups.values()) {
    const [first] = g;
    if (!first) continue;
    const points = g.map((r) => r.point);
    const { payload, sizes } = encodeChunk(points);
    cs.inserts.push({
      connector: first.connector,
      priority: first.priority,
      enqueuedAt: now,
      points,
      payload,
      sizes,
      attempts: g.map((r) => r.attempts),
    });
    cs.addDelta(first.connector, first.priority, g.length, sum(sizes));
  }
  cs.removedDeadLetters = rows.map((r) => r.seq);
}
