import type { DataPoint } from '../data-point.js';
import type { BifrostError, RejectedPoint } from '../errors.js';
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
export function planPoison(points: readonly DataPoint[], err: BifrostError): PoisonPlan {
  const inBatch = new Set(points.map((p) => p.id));
  const deadLetter: DeadLetterItem[] = [];
  let acked: string[] = [];
  const fields = err as { pointIds?: unknown; accepted?: unknown; rejected?: unknown };
  if (err.kind === 'payload') {
    const pointIds = stringsOf(fields.pointIds);
    const ids = pointIds ? pointIds.filter((id) => inBatch.has(id)) : [...inBatch];
    for (const id of new Set(ids)) deadLetter.push({ id, code: err.code, reason: err.message });
  } else {
    const rejected = new Set<string>();
    for (const r of rejectedOf(fields.rejected)) {
      if (!inBatch.has(r.id) || rejected.has(r.id)) continue;
      rejected.add(r.id);
      if ((r.kind ?? 'payload') === 'payload')
        deadLetter.push({ id: r.id, code: REJECTED_POINT_CODE, reason: r.reason });
    }
    acked = [...new Set(stringsOf(fields.accepted) ?? [])].filter((id) => inBatch.has(id) && !rejected.has(id));
  }
  return {
    outcome: { acked, deadLetter },
    acked: acked.length,
    deadLettered: deadLetter.length,
    released: inBatch.size - acked.length - deadLetter.length,
  };
}

/** The error's id list, when it is one (the error may come from another copy of core). */
function stringsOf(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

function rejectedOf(value: unknown): RejectedPoint[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (r): r is RejectedPoint => typeof r === 'object' && r !== null && typeof (r as RejectedPoint).id === 'string',
  );
}
