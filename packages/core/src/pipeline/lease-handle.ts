import type { DataPoint } from '../data-point.js';
import type { Logger } from '../plugin.js';
import type { DurableQueue, Lease, LeaseOutcome } from '../queue/types.js';
import type { DeviceStream } from './device-streams.js';

/**
 * A leased batch, settled at most once: a late write result after a timeout or a forced stop is
 * ignored, and a failed settle leaves the points queued (at-least-once). A handle may be split into
 * parts settled on their own; releasing it then releases the parts still open.
 */
export class LeaseHandle {
  private settled = false;
  private parts: LeaseHandle[] | undefined;
  /** Set when a write of these points starts: from then on a release counts as a delivery attempt. */
  written = false;
  /** The per-device stream the batch belongs to, when the runner keeps order with several in flight. */
  stream?: DeviceStream;

  constructor(
    readonly lease: Lease,
    private readonly queue: DurableQueue,
    private readonly logger: Logger,
  ) {}

  get open(): boolean {
    return this.parts ? this.parts.some((p) => p.open) : !this.settled;
  }

  /** Points this handle (or its open parts) still holds. */
  get heldPoints(): number {
    if (this.parts) return this.parts.reduce((n, p) => n + p.heldPoints, 0);
    return this.settled ? 0 : this.lease.points.length;
  }

  /**
   * Replaces this lease by one handle per group (see `DurableQueue.split`), in group order, each
   * settled on its own. Throws when the handle is settled or already split.
   */
  split(groupOf: (point: DataPoint, index: number) => number): LeaseHandle[] {
    if (this.settled || this.parts) throw new Error('[bifrost] only an open, unsplit lease can be split');
    this.parts = this.queue.split(this.lease, groupOf).map((lease) => {
      const part = new LeaseHandle(lease, this.queue, this.logger);
      part.written = this.written;
      if (this.stream) part.stream = this.stream;
      return part;
    });
    return this.parts;
  }

  /** Returns false when the lease was already settled (nothing done). A split lease settles through its parts. */
  async settle(outcome: LeaseOutcome): Promise<boolean> {
    if (this.parts) throw new Error('[bifrost] a split lease is settled through its parts');
    if (this.settled) return false;
    this.settled = true;
    try {
      await this.queue.settle(this.lease, outcome);
      return true;
    } catch (err) {
      this.logger.error({ err, lease: this.lease.id }, 'could not settle a lease; its points stay queued');
      return false;
    }
  }

  /** Hands the points back to the queue (their attempt count grows only if they were written). */
  async release(): Promise<boolean> {
    if (!this.parts) return this.settle({ acked: [], attempted: this.written });
    const released = await Promise.all(this.parts.filter((p) => p.open).map((p) => p.release()));
    return released.includes(true);
  }
}
