import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { openSqliteQueue, type QueueLogger } from '../src/queue/sqlite-queue.js';
import type { Random } from '../src/index.js';
import type { Lease } from '../src/queue/types.js';
import { seededTestRandom } from './seeded.js';

const CHILD = fileURLToPath(new URL('./queue-crash-child.mjs', import.meta.url));
const KILLS = 22;
const dir = mkdtempSync(join(tmpdir(), 'bifrost-queue-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ChildReport {
  /** Ids whose enqueue resolved. */
  confirmed: string[];
  /** Ids whose settle (ack) resolved. */
  acked: string[];
  /** Ids being acked when the child died: either still queued or gone. */
  acking: string[];
}

/** Runs the ingesting and delivering child, SIGKILLs it at a random moment, and returns what it reported. */
async function ingestUntilKilled(file: string, tag: string, random: Random): Promise<ChildReport> {
  const reportFile = join(dir, `${tag}.report`);
  const child = spawn(
    process.execPath,
    ['--experimental-transform-types', '--no-warnings', CHILD, file, tag, reportFile],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let gone = false;
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('close', (_code, signal) => {
      gone = true;
      resolve(signal);
    }),
  );
  const readLines = () => (existsSync(reportFile) ? readFileSync(reportFile, 'utf8').split('\n') : []);
  while (!readLines().includes('ready ;')) {
    if (gone) throw new Error(`child exited before it was ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 40 + random() * 260));
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  const report: ChildReport = { confirmed: [], acked: [], acking: [] };
  for (const raw of readLines()) {
    // A line cut short by the kill has no terminator: ignore it.
    if (!raw.endsWith(' ;')) continue;
    const [kind, ...ids] = raw.slice(0, -2).split(' ');
    if (kind === 'ok') report.confirmed.push(...ids);
    else if (kind === 'acking') report.acking.push(...ids);
    else if (kind === 'acked') report.acked.push(...ids);
  }
  const done = new Set(report.acked);
  report.acking = report.acking.filter((id) => !done.has(id));
  return report;
}

it(`keeps every point whose enqueue resolved across ${KILLS} SIGKILLs (sync=batch), none delivered twice`, async () => {
  const file = join(dir, 'queue.db');
  const random = seededTestRandom('queue crash');
  const confirmed = new Set<string>();
  const delivered = new Set<string>();
  /** Acks in flight when the child died: these may be queued again or gone. */
  let uncertain = new Set<string>();
  const log: string[] = [];
  const logger: QueueLogger = { info: (_o, msg) => log.push(msg), error: (_o, msg) => log.push(msg) };

  /** Reopens, checks the invariant, then delivers (acks) a random share of what is queued. */
  const reopenAndCheck = async (deliverShare: number) => {
    const q = await openSqliteQueue(file, { sync: 'batch', logger });
    try {
      const leases: Lease[] = [];
      for (let l = await q.lease('cloud', 5000); l; l = await q.lease('cloud', 5000)) leases.push(l);
      const queued = leases.flatMap((l) => l.points.map((p) => p.id));
      expect(new Set(queued).size).toBe(queued.length);
      expect(queued.filter((id) => delivered.has(id))).toEqual([]);
      const present = new Set(queued);
      const lost = [...confirmed].filter((id) => !present.has(id) && !delivered.has(id) && !uncertain.has(id));
      expect(lost).toEqual([]);
      for (const id of uncertain) if (!present.has(id)) delivered.add(id);
      uncertain = new Set();
      expect(q.stats('cloud')).toMatchObject({ points: queued.length, inFlight: queued.length });
      for (const lease of leases) {
        if (random() < deliverShare) {
          await q.settle(lease, { acked: 'all' });
          for (const p of lease.points) delivered.add(p.id);
        } else {
          // partial delivery: ack every other point, release the rest
          const acked = lease.points.filter((_, i) => i % 2 === 0).map((p) => p.id);
          await q.settle(lease, { acked });
          for (const id of acked) delivered.add(id);
        }
      }
      return queued.length;
    } finally {
      await q.close();
    }
  };

  let queuedSeen = 0;
  let childAcks = 0;
  for (let round = 0; round < KILLS; round++) {
    const report = await ingestUntilKilled(file, `r${round}`, random);
    for (const id of report.confirmed) confirmed.add(id);
    for (const id of report.acked) {
      expect(delivered.has(id)).toBe(false); // acked once only
      delivered.add(id);
    }
    uncertain = new Set(report.acking);
    childAcks += report.acked.length;
    queuedSeen += await reopenAndCheck(0.5);
  }
  await reopenAndCheck(1);
  expect(await reopenAndCheck(1)).toBe(0);
  expect(confirmed.size).toBeGreaterThan(KILLS * 10);
  expect(queuedSeen).toBeGreaterThan(0);
  expect(childAcks).toBeGreaterThan(0);
  expect(log).toEqual([]); // no damaged file was ever found
  expect(readdirSync(dir).filter((f) => f.includes('.corrupt-'))).toEqual([]);
}, 90_000);
