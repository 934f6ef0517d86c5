// Lanes: the per-connector bookkeeping of the queue. Owns `LaneState` (points, bytes and leased
// points per priority, drop / expiry / dead-letter counters, the oldest chunk's enqueue time and
// the per-priority lease position), the registry that creates a lane on first use, `stats()` and the
// lane totals written on close. Which chunks hold a lane's points is the chunk cache's and the
// store's business; leases move the lease position (see leases.ts).
import { PRIORITIES, sum } from './change-set.js';
import type { ChunkMeta, ChunkStore, LaneTotal } from './chunk-store.js';
import { checkLaneSettings } from './validate.js';
import { DEFAULT_LANE_SETTINGS, type LaneSettings, type LaneStats } from './types.js';

export interface LaneState {
  settings: LaneSettings;
  points: number[];
  bytes: number[];
  leased: number[];
  dropped: number;
  expired: number;
  deadLetters: number;
  quarantined: number;
  /** Enqueue time of the lane's oldest chunk, and that chunk's seq: read again when it is deleted. */
  oldest: number | undefined;
  oldestSeq: number | undefined;
  oldestStale: boolean;
  /**
   * Per priority, a seq up to which no chunk has an available point (oldest-first lanes): leases
   * start after it instead of at the lane's first chunk. Lowered when a point is handed back.
   */
  scanAfter: Array<number | undefined>;
}

/** Every lane of the queue by connector, created with the default settings on first use. */
export class Lanes {
  readonly byConnector = new Map<string, LaneState>();
  readonly defaults: LaneSettings;

  constructor(defaults: Partial<LaneSettings> | undefined) {
    this.defaults = { ...DEFAULT_LANE_SETTINGS, ...checkLaneSettings(defaults ?? {}, 'defaults') };
  }

  /** The lane of `connector`, created when unknown. */
  get(connector: string): LaneState {
    let lane = this.byConnector.get(connector);
    if (!lane) {
      lane = {
        settings: { ...this.defaults },
        points: new Array<number>(PRIORITIES).fill(0),
        bytes: new Array<number>(PRIORITIES).fill(0),
        leased: new Array<number>(PRIORITIES).fill(0),
        dropped: 0,
        expired: 0,
        deadLetters: 0,
        quarantined: 0,
        oldest: undefined,
        oldestSeq: undefined,
        oldestStale: true,
        scanAfter: new Array<number | undefined>(PRIORITIES).fill(undefined),
      };
      this.byConnector.set(connector, lane);
    }
    return lane;
  }

  configure(connector: string, settings: Partial<LaneSettings>): void {
    this.get(connector).settings = { ...this.defaults, ...checkLaneSettings(settings, `lane "${connector}"`) };
  }

  /** Points and bytes per lane as the store kept them (read once on open). */
  load(totals: readonly LaneTotal[]): void {
    for (const t of totals) {
      const lane = this.get(t.connector);
      lane.points[t.priority] = t.points;
      lane.bytes[t.priority] = t.bytes;
    }
  }

  /** Points of a connector's lane not leased, by the counts. */
  available(connector: string): number {
    const lane = this.byConnector.get(connector);
    return lane ? sum(lane.points) - sum(lane.leased) : 0;
  }

  /**
   * Takes the points of a quarantined chunk out of a lane (clamped: a damaged chunk's own count
   * may be wrong) and counts them as quarantined.
   */
  quarantine(connector: string, priority: number, points: number, bytes: number): void {
    const lane = this.get(connector);
    const n = Math.min(points, lane.points[priority]! - lane.leased[priority]!);
    lane.points[priority]! -= Math.max(0, n);
    lane.bytes[priority] = Math.max(0, lane.bytes[priority]! - bytes);
    lane.quarantined += points;
    lane.oldestStale = true;
  }

  /** The non-empty lane totals, for the store to keep over a clean close. */
  totals(): LaneTotal[] {
    const out: LaneTotal[] = [];
    for (const [connector, lane] of this.byConnector) {
      lane.points.forEach((points, p) => {
        if (points) out.push({ connector, priority: p, points, bytes: lane.bytes[p] ?? 0 });
      });
    }
    return out;
  }

  /** `stats(connector)`; `store` is read for the oldest chunk when it changed (null once closed). */
  stats(connector: string, store: ChunkStore | null): LaneStats {
    const lane = this.byConnector.get(connector);
    if (!lane) return { points: 0, bytes: 0, inFlight: 0, dropped: 0, expired: 0, deadLetters: 0, quarantined: 0 };
    if (lane.oldestStale && store) {
      try {
        let oldest: ChunkMeta | undefined;
        for (let p = 0; p < PRIORITIES; p++) {
          if (!lane.points[p]) continue;
          const first = store.scanLane(connector, p, false, undefined, 1)[0];
          if (first && (oldest === undefined || first.enqueuedAt < oldest.enqueuedAt)) oldest = first;
        }
        lane.oldest = oldest?.enqueuedAt;
        lane.oldestSeq = oldest?.seq;
        lane.oldestStale = false;
      } catch {
        // stats must not throw; a storage problem already shows in health()
      }
    }
    const s: LaneStats = {
      points: sum(lane.points),
      bytes: sum(lane.bytes),
      inFlight: sum(lane.leased),
      dropped: lane.dropped,
      expired: lane.expired,
      deadLetters: lane.deadLetters,
      quarantined: lane.quarantined,
    };
    if (s.points > 0 && lane.oldest !== undefined) s.oldestEnqueuedAt = lane.oldest;
    return s;
  }
}
