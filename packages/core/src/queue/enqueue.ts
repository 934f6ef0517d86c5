// Enqueue and lane limits: turns the enqueue calls gathered for one group commit into new chunks.
// Owns `max_points` / `max_bytes` and `when_full`: `block` refuses a whole call with QueueFullError,
// `drop_oldest` removes the oldest unleased points of the lowest priority first, `drop_newest` keeps
// the incoming surplus out; then one chunk per (connector, priority) is encoded for the commit.
import type { DataPoint } from '../data-point.js';
import { PRIORITIES, sum, type ChangeSet } from './change-set.js';
import type { ChunkCache } from './chunk-cache.js';
import { encodeChunk } from './chunk-codec.js';
import type { Lanes } from './lanes.js';
import { QueueFullError, type EnqueueItem, type EnqueueResult } from './types.js';

/** One `enqueue` call waiting for the next group commit. */
export interface PendingEnqueue {
  items: readonly EnqueueItem[];
  resolve: (r: EnqueueResult) => void;
  reject: (e: unknown) => void;
}

interface EncodedItem {
  item: EnqueueItem;
  /** Size estimate (its JSON) while placing it under `max_bytes`; 0 when the lane has no byte limit. */
  size: number;
}

/**
 * Places the points of `calls` into `cs` (new chunks, drops) under each lane's limits. A call that a
 * `block` lane cannot take is rejected at once with QueueFullError and queues nothing; the others
 * are returned with their results, to resolve once `cs` is committed. Throws what the store throws
 * while `drop_oldest` reads chunks.
 */
export function placeEnqueues(
  calls: readonly PendingEnqueue[],
  lanes: Lanes,
  cache: ChunkCache,
  cs: ChangeSet,
  now: number,
  refused: Set<PendingEnqueue>,
): Array<{ call: PendingEnqueue; result: EnqueueResult }> {
  const done: Array<{ call: PendingEnqueue; result: EnqueueResult }> = [];
  /** Accepted points per connector, per priority: each becomes one chunk. */
  const building = new Map<string, EncodedItem[][]>();
  for (const call of calls) {
    const byConnector = new Map<string, EncodedItem[]>();
    // A call's items come in runs of one connector: its list and byte limit are looked up once per run.
    let runConnector: string | undefined;
    let runList: EncodedItem[] = [];
    let runSized = false;
    for (const item of call.items) {
      if (item.connector !== runConnector) {
        runConnector = item.connector;
        runSized = lanes.get(runConnector).settings.maxBytes > 0;
        const known = byConnector.get(runConnector);
        if (known) runList = known;
        else byConnector.set(runConnector, (runList = []));
      }
      runList.push({ item, size: runSized ? sizeEstimate(item.point) : 0 });
    }
    const full = [...byConnector].find(
      ([c, list]) => lanes.get(c).settings.whenFull === 'block' && overflow(lanes, c, cs, list).any,
    );
    if (full) {
      refused.add(call);
      call.reject(new QueueFullError(full[0]));
      continue;
    }
    const result: EnqueueResult = { accepted: 0, dropped: {} };
    for (const [connector, list] of byConnector) {
      const { kept, dropped } = makeRoom(lanes, cache, connector, cs, list);
      if (dropped) {
        result.dropped[connector] = dropped;
        cs.count(cs.dropped, connector, dropped);
      }
      let perPriority = building.get(connector);
      if (!perPriority) building.set(connector, (perPriority = []));
      const points = new Array<number>(PRIORITIES).fill(0);
      const bytes = new Array<number>(PRIORITIES).fill(0);
      for (const e of kept) {
        const p = e.item.priority;
        (perPriority[p] ??= []).push(e);
        // p is a validated priority, 0..PRIORITIES-1.
        points[p]!++;
        bytes[p]! += e.size;
      }
      for (let p = 0; p < PRIORITIES; p++) if (points[p]) cs.addDelta(connector, p, points[p]!, bytes[p]!);
      result.accepted += kept.length;
    }
    done.push({ call, result });
  }
  for (const [connector, perPriority] of building) {
    perPriority.forEach((list, priority) => {
      if (!list?.length) return;
      const points = list.map((e) => e.item.point);
      const { payload, sizes } = encodeChunk(points);
      cs.inserts.push({ connector, priority, enqueuedAt: now, points, payload, sizes, attempts: null });
      // Replace the placement estimates by the stored sizes.
      cs.addDelta(connector, priority, 0, sum(sizes) - list.reduce((n, e) => n + e.size, 0));
    });
  }
  return done;
}

/** Projected totals of a connector with this commit's changes so far, and whether `incoming` would overflow. */
function overflow(lanes: Lanes, connector: string, cs: ChangeSet, incoming: readonly EncodedItem[]) {
  const lane = lanes.get(connector);
  let points = sum(lane.points);
  let bytes = sum(lane.bytes);
  const d = cs.laneDelta.get(connector);
  if (d) {
    points += sum(d.points);
    bytes += sum(d.bytes);
  }
  const { maxPoints, maxBytes } = lane.settings;
  const inBytes = incoming.reduce((n, e) => n + e.size, 0);
  const excessPoints = maxPoints > 0 ? Math.max(0, points + incoming.length - maxPoints) : 0;
  const excessBytes = maxBytes > 0 ? Math.max(0, bytes + inBytes - maxBytes) : 0;
  return { any: excessPoints > 0 || excessBytes > 0, excessPoints, excessBytes };
}

/** Applies `when_full` (drop_newest / drop_oldest): the incoming points to queue and how many points were dropped. */
function makeRoom(
  lanes: Lanes,
  cache: ChunkCache,
  connector: string,
  cs: ChangeSet,
  incoming: EncodedItem[],
): { kept: EncodedItem[]; dropped: number } {
  const over = overflow(lanes, connector, cs, incoming);
  if (!over.any) return { kept: incoming, dropped: 0 };
  let { excessPoints, excessBytes } = over;
  const policy = lanes.get(connector).settings.whenFull;
  if (policy === 'drop_oldest') {
    let freed = 0;
    for (let p = 0; p < PRIORITIES && (excessPoints > 0 || excessBytes > 0); p++) {
      cache.forEachOldest(
        connector,
        p,
        cs,
        () => true,
        (chunk, i) => {
          cs.remove(chunk, i);
          freed++;
          excessPoints--;
          // i is a point index of the chunk, and sizes has one entry per point.
          excessBytes -= chunk.sizes[i]!;
          return excessPoints > 0 || excessBytes > 0;
        },
      );
    }
    let start = 0;
    // start < incoming.length was just checked.
    while (start < incoming.length && (excessPoints > 0 || excessBytes > 0)) {
      excessPoints--;
      excessBytes -= incoming[start++]!.size;
    }
    return { kept: incoming.slice(start), dropped: freed + start };
  }
  let end = incoming.length;
  // end > 0 was just checked, so end - 1 is an index of incoming.
  while (end > 0 && (excessPoints > 0 || excessBytes > 0)) {
    excessPoints--;
    excessBytes -= incoming[--end]!.size;
  }
  return { kept: incoming.slice(0, end), dropped: incoming.length - end };
}

/**
 * Upper bound of the bytes a point adds to a chunk: its JSON plus the per-field overhead of the
 * column layout when it is alone in a chunk (bigger chunks store it in less).
 */
function sizeEstimate(point: DataPoint): number {
  return Buffer.byteLength(JSON.stringify(point)) + 32;
}
