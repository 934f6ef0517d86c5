import { QueueFullError, type DurableQueue } from '@bifrost/core/host';

/**
 * Wraps a queue so that its `health()` also turns red while the latest call of a data-path
 * operation (enqueue, lease, settle, expire) failed, and green again once that operation succeeds.
 *
 * Why: the queue's own health covers the storage errors it detects, but the delivery loop only logs
 * and retries a failing `lease`, so a queue that cannot hand out points would otherwise still look
 * healthy on `/ready` and `/api/cloud/health`. A full queue ({@link QueueFullError}) is back-pressure,
 * not a fault, and does not count.
 */
export function withOperationHealth(queue: DurableQueue): DurableQueue {
  const failing = new Map<string, string>();
  const tracked =
    <A extends unknown[], R>(op: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        const result = await call(...args);
        failing.delete(op);
        return result;
      } catch (err) {
        if (!(err instanceof QueueFullError))
          failing.set(op, `${op} failed: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      }
    };
  return {
    configureLane: (connector, settings) => queue.configureLane(connector, settings),
    enqueue: tracked('enqueue', (items) => queue.enqueue(items)),
    lease: tracked('lease', (connector: string, max: number) => queue.lease(connector, max)),
    settle: tracked('settle', (lease, outcome) => queue.settle(lease, outcome)),
    split: (lease, groupOf) => queue.split(lease, groupOf),
    expire: tracked('expire', (now?: number) => queue.expire(now)),
    stats: (connector) => queue.stats(connector),
    connectors: () => queue.connectors(),
    listDeadLetters: (filter) => queue.listDeadLetters(filter),
    replayDeadLetters: (filter) => queue.replayDeadLetters(filter),
    purgeDeadLetters: (filter) => queue.purgeDeadLetters(filter),
    health() {
      const own = queue.health();
      if (!own.ok || failing.size === 0) return own;
      return { ...own, ok: false, reason: [...failing.values()].join('; ') };
    },
    integrity: () => queue.integrity(),
    acknowledgeIntegrity: () => queue.acknowledgeIntegrity(),
    close: () => queue.close(),
  };
}
