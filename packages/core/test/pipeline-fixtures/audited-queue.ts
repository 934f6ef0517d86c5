import type { DurableQueue, Lease, LeaseOutcome } from '../../src/host.js';

/**
 * Wraps a queue to check the pipeline's side of the lease contract: every lease is settled exactly
 * once, and records which ids were acked (deleted) and dead-lettered.
 */
export function auditQueue(queue: DurableQueue) {
  const settled = new Set<number>();
  const open = new Map<number, Lease>();
  const audit = {
    acked: [] as string[],
    deadLettered: [] as Array<{ id: string; code: string; reason: string }>,
    releases: 0,
    /** Every lease handed out, in order. */
    leases: [] as Lease[],
    /** Every lease split by device stream, and its parts. */
    splits: [] as Array<{ parent: Lease; parts: Lease[] }>,
    violations: [] as string[],
    /** Leases handed out and not settled yet. */
    openLeases: () => [...open.values()],
  };
  const lease: DurableQueue['lease'] = async (connector, max) => {
    const l = await queue.lease(connector, max);
    if (l) {
      open.set(l.id, l);
      audit.leases.push(l);
    }
    return l;
  };
  const settle: DurableQueue['settle'] = async (lease: Lease, outcome: LeaseOutcome) => {
    if (settled.has(lease.id)) audit.violations.push(`lease ${lease.id} settled twice`);
    settled.add(lease.id);
    open.delete(lease.id);
    await queue.settle(lease, outcome);
    // Recorded once the queue applied it, so a test waiting on these also sees the pipeline's
    // bookkeeping (it runs in the same microtask turn).
    const ids = outcome.acked === 'all' ? lease.points.map((p) => p.id) : [...outcome.acked];
    audit.acked.push(...ids);
    audit.deadLettered.push(...(outcome.deadLetter ?? []));
    if (!ids.length && !outcome.deadLetter?.length) audit.releases++;
  };
  const split: DurableQueue['split'] = (parent, groupOf) => {
    const parts = queue.split(parent, groupOf);
    open.delete(parent.id);
    for (const p of parts) open.set(p.id, p);
    audit.splits.push({ parent, parts });
    return parts;
  };
  const wrapped = new Proxy(queue, {
    get(target, prop) {
      if (prop === 'lease') return lease;
      if (prop === 'settle') return settle;
      if (prop === 'split') return split;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v.bind(target) as unknown) : v;
    },
  });
  return { queue: wrapped, audit };
}
