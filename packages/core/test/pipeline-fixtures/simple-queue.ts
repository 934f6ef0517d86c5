// Stand-in until the memory queue lands: just enough of DurableQueue for pipeline tests.
import type { DataPoint, DeadLetterEntry, DurableQueue, Lease } from '../../src/index.js';

interface Entry { point: DataPoint; priority: number; seq: number; at: number; attempts: number; leased: boolean }

export function createSimpleQueue(): DurableQueue {
  const lanes = new Map<string, Entry[]>();
  const dead: DeadLetterEntry[] = [];
  const leases = new Map<number, Entry[]>();
  let seq = 0;
  let leaseSeq = 0;
  const lane = (c: string) => lanes.get(c) ?? (lanes.set(c, []), lanes.get(c)!);
  return {
    configureLane: (c) => void lane(c),
    async enqueue(items) {
      for (const it of items) lane(it.connector).push({ point: it.point, priority: it.priority, seq: ++seq, at: Date.now(), attempts: 0, leased: false });
      return { accepted: items.length, dropped: {} };
    },
    async lease(c, max) {
      const free = lane(c).filter((e) => !e.leased).sort((a, b) => b.priority - a.priority || a.seq - b.seq).slice(0, max);
      if (!free.length) return null;
      for (const e of free) e.leased = true;
      const id = ++leaseSeq;
      leases.set(id, free);
      const l: Lease = { id, connector: c, points: free.map((e) => e.point), attempts: Math.max(...free.map((e) => e.attempts)) };
      return l;
    },
    async settle(l, outcome) {
      const entries = leases.get(l.id)!;
      leases.delete(l.id);
      const acked = outcome.acked === 'all' ? new Set(entries.map((e) => e.point.id)) : new Set(outcome.acked);
      const dl = new Map((outcome.deadLetter ?? []).map((d) => [d.id, d]));
      const list = lane(l.connector);
      for (const e of entries) {
        const d = dl.get(e.point.id);
        if (acked.has(e.point.id) || d) list.splice(list.indexOf(e), 1);
        if (d) dead.push({ seq: dead.length + 1, connector: l.connector, point: e.point, code: d.code, reason: d.reason, attempts: e.attempts, time: Date.now() });
        e.leased = false;
        e.attempts++;
      }
    },
    async expire() { return {}; },
    stats(c) {
      const l = lane(c);
      return { points: l.length, bytes: 0, inFlight: l.filter((e) => e.leased).length, oldestEnqueuedAt: l.length ? Math.min(...l.map((e) => e.at)) : undefined, dropped: 0, expired: 0, deadLetters: dead.filter((d) => d.connector === c).length };
    },
    connectors: () => [...lanes.keys()],
    async listDeadLetters(f) { return dead.filter((d) => !f?.connector || d.connector === f.connector); },
    async replayDeadLetters() { return 0; },
    async purgeDeadLetters() { return 0; },
    health: () => ({ ok: true }),
    async close() {},
  };
}
