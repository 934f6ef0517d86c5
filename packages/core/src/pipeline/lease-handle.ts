import type { Logger } from '../plugin.js';
import type { DurableQueue, Lease, LeaseOutcome } from '../queue/types.js';
import type { DeviceStream } from './device-streams.js';

/**
 * A leased batch, settled at most once: a late write result after a timeout or a forced stop is
 * ignored, and a failed settle leaves the points queued (at-least-once).
 */
export class LeaseHandle {
  private settled = false;
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
    return !this.settled;
  }

  /** Returns false when the lease was already settled (nothing done). */
  async settle(outcome: LeaseOutcome): Promise<boolean> {
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
  release(): Promise<boolean> {
    return this.settle({ acked: [], attempted: this.written });
  }
}
