// checkQueueFile: a read-only look at a queue file for `bifrost queue check`: SQLite's own check,
// every chunk's checksum, and the incidents not acknowledged yet.
import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { readMarker, type QueueMarker } from './queue-marker.js';
import { inspectChunks } from './salvage.js';
import { isDamage } from './sqlite-errors.js';
import type { QueueIncident } from './types.js';

/** What {@link checkQueueFile} found. */
export interface QueueCheckReport {
  file: string;
  /** The marker beside the file: a queue is expected there (see `openSqliteQueue`). */
  marker?: QueueMarker;
  exists: boolean;
  /** Layout version recorded in the file, if it could be read. */
  layout?: string;
  /** What `PRAGMA integrity_check` reported other than "ok" (at most 20 lines). */
  sqliteProblems: string[];
  /** Chunks and queued points whose checksum holds. */
  chunks: number;
  points: number;
  /** Chunks that fail their checksum or cannot be decoded, and the points they hold (as far as known). */
  damagedChunks: number;
  damagedPoints: number;
  /** Rows or stretches of rows SQLite could not read. */
  unreadableRows: number;
  /** Incidents not acknowledged yet. */
  incidents: QueueIncident[];
  /** True when nothing above needs an operator. */
  ok: boolean;
}

/**
 * Checks a queue file without changing it (the gateway must not be running: it holds the file
 * exclusively). A file with problems is salvaged by `salvageQueueFile` (`bifrost queue salvage`),
 * and is salvaged anyway by the next start when SQLite's check fails.
 */
export function checkQueueFile(path: string): QueueCheckReport {
  const marker = readMarker(path);
  const report: QueueCheckReport = {
    file: path,
    exists: existsSync(path),
    sqliteProblems: [],
    chunks: 0,
    points: 0,
    damagedChunks: 0,
    damagedPoints: 0,
    unreadableRows: 0,
    incidents: [],
    ok: false,
  };
  if (marker) report.marker = marker;
  if (!report.exists) {
    report.ok = !marker;
    return report;
  }
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA query_only=1');
    try {
      report.layout = (
        db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined
      )?.value;
      const rows = db.prepare('PRAGMA integrity_check(20)').all() as Array<Record<string, string>>;
      report.sqliteProblems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== 'ok');
    } catch (err) {
      if (!isDamage(err) && !/no such table/.test(String(err))) throw err;
      report.sqliteProblems.push((err as Error).message);
    }
    const found = inspectChunks(db);
    Object.assign(report, found);
    try {
      report.incidents = (
        db
          .prepare(
            'SELECT id, time, kind, message, connector, recovered, lost FROM incidents WHERE acknowledged = 0 ORDER BY id',
          )
          .all() as unknown as QueueIncident[]
      ).map((i) => Object.fromEntries(Object.entries(i).filter(([, v]) => v !== null)) as unknown as QueueIncident);
    } catch (err) {
      if (!isDamage(err) && !/no such table/.test(String(err))) throw err;
    }
  } finally {
    db.close();
  }
  report.ok =
    !report.sqliteProblems.length && !report.damagedChunks && !report.unreadableRows && !report.incidents.length;
  return report;
}
