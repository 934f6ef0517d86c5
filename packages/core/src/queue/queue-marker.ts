// The marker beside a queue file (`<file>.marker`): proof that a queue was expected there, and what
// it held when last closed, so that a missing, emptied or truncated file is never taken for a new one.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** What the marker records. */
export interface QueueMarker {
  /** Layout version of the file. */
  layout: string;
  /** Whether the file was closed cleanly (then `bytes` and `points` are exact). */
  cleanClose: boolean;
  /** Size of the file (bytes) when the marker was written. */
  bytes: number;
  /** Points queued when the marker was written. */
  points: number;
  /** ISO time it was written. */
  time: string;
}

/** Path of the marker of a queue file. */
export function markerPath(file: string): string {
  return `${file}.marker`;
}

/** The marker of `file`; undefined when there is none (a new queue, or one written before markers). */
export function readMarker(file: string): QueueMarker | undefined {
  let text: string;
  try {
    text = readFileSync(markerPath(file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const m = JSON.parse(text) as Partial<QueueMarker>;
    return {
      layout: String(m.layout ?? ''),
      cleanClose: m.cleanClose === true,
      bytes: Number.isSafeInteger(m.bytes) ? m.bytes! : 0,
      points: Number.isSafeInteger(m.points) ? m.points! : 0,
      time: String(m.time ?? ''),
    };
  } catch {
    // A damaged marker still says a queue was expected here; how much it held is unknown.
    return { layout: '', cleanClose: false, bytes: 0, points: 0, time: '' };
  }
}

/** Writes the marker of `file` (through a temporary file and a rename, so it is never half written). */
export function writeMarker(file: string, marker: Omit<QueueMarker, 'time'>): void {
  const tmp = `${markerPath(file)}.tmp`;
  writeFileSync(tmp, JSON.stringify({ ...marker, time: new Date().toISOString() }));
  renameSync(tmp, markerPath(file));
}
