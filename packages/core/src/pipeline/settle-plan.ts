import type { DataPoint } from '../data-point.js';
import type { PartialWriteError, PayloadError } from '../errors.js';
import type { DeadLetterItem, LeaseOutcome } from '../queue/types.js';

/** Dead-letter code for points a connector rejected one by one in a {@link PartialWriteError}. */
export const REJECTED_POINT_CODE = 'BIFROST_ERR_PAYLOAD';

/** What happens to a leased batch after a poison or partial result. */
export interface PoisonPlan {
  outcome: LeaseOutcome;
  acked: number;
  deadLettered: number;
  /** Points neither acked nor dead-lettered: released for another try. */
  released: number;
}

/**
 * Settles a batch after a {@link PayloadError} or {@link PartialWriteError}. Only ids of the batch
 * count; a point is acked only when the connector said it was accepted (and did not also reject it);
 * points of a `PayloadError` without `pointIds` are all poison; everything else is released, never
 * assumed delivered.
 */
export function planPoison(points: readonly DataPoint[], err: PayloadError | PartialWriteError): PoisonPlan {
  const inBatch = new Set(points.map((p) => p.id));
  const deadLetter: DeadLetterItem[] = [];
  let acked: string[] = [];
  if (err.kind === 'payload') {
    const ids = err.pointIds ? err.pointIds.filter((id) => inBatch.has(id)) : [...inBatch];
    for (const id of new Set(ids)) deadLetter.push({ id, code: err.code, reason: err.message });
  } else {
    const rejected = new Set<string>();
    for (const r of err.rejected) {
      if (!inBatch.has(r.id) || rejected.has(r.id)) continue;
      rejected.add(r.id);
      if ((r.kind ?? 'payload') === 'payload')
        deadLetter.push({ id: r.id, code: REJECTED_POINT_CODE, reason: r.reason });
    }
    acked = [...new Set(err.accepted)].filter((id) => inBatch.has(id) && !rejected.has(id));
  }
  return {
    outcome: { acked, deadLetter },
    acked: acked.length,
    deadLettered: deadLetter.length,
    released: inBatch.size - acked.length - deadLetter.length,
  };
}
