// Child process of queue-crash.test.ts: ingests into the SQLite queue (sync=batch) until it is
// SIGKILLed, reporting `ok <id> ... ;` after each enqueue promise resolved, while a consumer leases
// and acks: `acking <id> ... ;` before settle, `acked <id> ... ;` after settle resolved. Reports are
// appended to a file with synchronous writes (a pipe would lose what is still buffered at the kill). It loads the
// TypeScript sources directly (Node 24 type transform plus a resolve hook mapping `.js` to `.ts`).
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith('.') && specifier.endsWith('.js')) {
      try {
        return next(specifier, context);
      } catch {
        return next(`${specifier.slice(0, -3)}.ts`, context);
      }
    }
    return next(specifier, context);
  },
});

const { openSync, writeSync } = await import('node:fs');
const { openSqliteQueue } = await import('../src/queue/sqlite-queue.ts');
const [file, runTag, reportFile] = process.argv.slice(2);
const reportFd = openSync(reportFile, 'a');
const report = (line) => writeSync(reportFd, `${line} ;\n`);
const queue = await openSqliteQueue(file, { sync: 'batch' });
let n = 0;
const point = () => ({
  id: `${runTag}-${n++}`,
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: n,
  quality: 'GOOD',
  timestamp: Date.now(),
});
report('ready');
const consumer = async () => {
  for (;;) {
    const lease = await queue.lease('cloud', 1 + (n % 300));
    if (!lease) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    // ack about two thirds, release the rest
    const acked = lease.points.filter((_, i) => i % 3 !== 2).map((p) => p.id);
    report(`acking ${acked.join(' ')}`);
    await queue.settle(lease, { acked });
    report(`acked ${acked.join(' ')}`);
  }
};
// Several producers at once so that group commits carry many calls.
await Promise.all([
  consumer(),
  ...Array.from({ length: 8 }, async (_, w) => {
    for (;;) {
      const size = 1 + ((n + w) % 50);
      const items = Array.from({ length: size }, () => ({ connector: 'cloud', priority: (n % 3) * 4, point: point() }));
      await queue.enqueue(items);
      report(`ok ${items.map((i) => i.point.id).join(' ')}`);
    }
  }),
]);
