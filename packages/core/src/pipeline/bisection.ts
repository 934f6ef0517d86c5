import type { DataPoint } from '../data-point.js';
import type { LeaseHandle } from './lease-handle.js';

/** Dead-letter code of a point isolated by bisection (poison after send). */
export const SUSPECTED_POISON_CODE = 'BIFROST_ERR_SUSPECTED_POISON';

/**
 * The parts of one leased batch still to deliver, in queue order: the whole lease at first. A
 * write of several points that fails as transient splits its part in halves (when isolation is
 * on). After a failure, the next write is, where the ordering allows, the first point of a part
 * outside the one that failed: its success proves the peer is up (see {@link SuspectLedger}) and
 * keeps a bisection from stringing failures together into the breaker; the rest of that part stays
 * for the next proofs.
 */
export class BatchParts {
  private readonly parts: LeaseHandle[];
  /** The part (or the halves of the part) whose write failed last; empty after a success. */
  private justFailed = new Set<LeaseHandle>();
  private failedOnce = false;

  /**
   * With isolation on, a batch holding points whose writes failed before (`suspected`) starts
   * split: those points in a part written after the others that may go before them (so a breaker's
   * trial write is not the poison again), each device's later points after its suspects.
   */
  constructor(
    root: LeaseHandle,
    private readonly opts: { bisect: boolean; perDeviceOrder: boolean; suspected: (point: DataPoint) => boolean },
  ) {
    this.parts = [root];
    const { points } = root.lease;
    if (!opts.bisect || points.length < 2) return;
    const suspects = points.filter(opts.suspected);
    if (!suspects.length || suspects.length === points.length) return;
    const blocked = new Set(opts.perDeviceOrder ? suspects.map((p) => p.deviceId) : []);
    try {
      this.parts = root.split((p) => (opts.suspected(p) ? 0 : blocked.has(p.deviceId) ? 2 : 1));
    } catch {
      return; // the queue could not split it (closing): written whole
    }
    this.justFailed = new Set(this.parts.slice(0, 1));
    this.failedOnce = true;
  }

  /**
   * Whether a write of this batch failed (with isolation on): its writes then run alone, so a
   * connection they break fails no other write and theirs no other strikes.
   */
  get isolating(): boolean {
    return this.failedOnce;
  }

  get empty(): boolean {
    return this.parts.length === 0;
  }

  /** Parts left to deliver. */
  get count(): number {
    return this.parts.length;
  }

  /** The part to write next (undefined when every part is settled). */
  next(): LeaseHandle | undefined {
    if (this.justFailed.size) {
      for (let i = 0; i < this.parts.length; i++) {
        const part = this.parts[i]!;
        if (!this.justFailed.has(part) && this.mayGoFirst(i)) return this.probe(i);
      }
    }
    return this.parts[0];
  }

  /**
   * Part `i` as the write after a failure: only its first point, the rest stays for the next
   * proofs, so a suspect's attempts need not follow each other into the breaker.
   */
  private probe(i: number): LeaseHandle {
    const part = this.parts[i]!;
    if (part.lease.points.length < 2) return part;
    try {
      const pieces = part.split((_, k) => (k === 0 ? 0 : 1));
      this.parts.splice(i, 1, ...pieces);
      return pieces[0]!;
    } catch {
      return part; // the queue could not split it (closing): written whole
    }
  }

  /** The part was acked, dead-lettered or settled otherwise. */
  settled(part: LeaseHandle): void {
    this.remove(part);
    this.justFailed.clear();
  }

  /**
   * The part's write failed as transient: splits it in halves when isolation is on and it holds
   * more than one point (returns true), else leaves it to be retried.
   */
  failed(part: LeaseHandle): boolean {
    const n = part.lease.points.length;
    this.justFailed = new Set([part]);
    if (!this.opts.bisect) return false;
    this.failedOnce = true;
    if (n < 2) return false;
    const half = Math.ceil(n / 2);
    let halves: LeaseHandle[];
    try {
      halves = part.split((_, i) => (i < half ? 0 : 1));
    } catch {
      return false; // the queue could not split it (closing): retried whole
    }
    this.parts.splice(this.parts.indexOf(part), 1, ...halves);
    this.justFailed = new Set(halves);
    return true;
  }

  private remove(part: LeaseHandle): void {
    const i = this.parts.indexOf(part);
    if (i >= 0) this.parts.splice(i, 1);
  }

  /** Part `i` may be written before the parts ahead of it: no ordering, or none of their devices. */
  private mayGoFirst(i: number): boolean {
    if (!this.opts.perDeviceOrder || i === 0) return true;
    const ahead = new Set<string>();
    for (let k = 0; k < i; k++) for (const p of this.parts[k]!.lease.points) ahead.add(p.deviceId);
    return !this.parts[i]!.lease.points.some((p) => ahead.has(p.deviceId));
  }
}

/**
 * Per connector: how often writes containing each point failed as transient right after another
 * write had succeeded (strikes). Failures with no success in between (an outage, a dead link) do not
 * count; a point that is acked or dead-lettered is forgotten; at most `capacity` points are kept
 * (oldest forgotten first).
 */
export class SuspectLedger {
  private successes = 0;
  private readonly entries = new Map<string, { strikes: number; mark: number }>();

  constructor(private readonly capacity = 10_000) {}

  /** Whether a write containing the point failed and it was neither acked nor dead-lettered since. */
  suspected(id: string): boolean {
    // Empty in the common case: no id is hashed then.
    return this.entries.size !== 0 && this.entries.has(id);
  }

  /** A write succeeded: the peer is up; its points are cleared. */
  succeeded(points: readonly DataPoint[]): void {
    this.successes++;
    this.forget(points);
  }

  forget(points: readonly DataPoint[]): void {
    if (this.entries.size === 0) return;
    for (const p of points) this.entries.delete(p.id);
  }

  /**
   * A write of `points` failed as transient. A point strikes when a write succeeded since the last
   * failure containing it (its first failure never strikes). Returns the strikes of the single
   * point when `points` holds one, else 0.
   */
  failed(points: readonly DataPoint[]): number {
    let last = 0;
    for (const p of points) {
      const entry = this.entries.get(p.id) ?? { strikes: 0, mark: this.successes };
      if (this.successes > entry.mark) entry.strikes++;
      entry.mark = this.successes;
      this.entries.delete(p.id);
      this.entries.set(p.id, entry);
      last = entry.strikes;
    }
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(id);
    }
    return points.length === 1 ? last : 0;
  }
}
