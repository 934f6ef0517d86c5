import type { DataPoint, RejectedPoint } from '@bifrost/core';
import { classifyWriteFailure, namedLines } from './http-errors.js';

/** One point's line, keyed by the point id. */
export interface IdentifiedLine {
  id: string;
  line: string;
}

/** Sends lines (joined by '\n') in one request; resolves on 204, rejects with the client's error otherwise. */
export type PostBody = (body: string) => Promise<void>;

/**
 * Writes `entries` and returns the points InfluxDB will never accept (poison), having had every
 * other line acknowledged. When the server rejects lines (400, 413, 422) it names them if it can
 * (parse errors); otherwise the set is bisected and each half resent until the culprits are
 * single lines. Resending is safe: the same series+timestamp overwrites, it never duplicates.
 * Any other failure (auth, capacity, network) is thrown classified, and the caller retries the
 * whole batch.
 */
export async function deliverLines(entries: readonly IdentifiedLine[], post: PostBody): Promise<RejectedPoint[]> {
  if (entries.length === 0) return [];
  try {
    await post(entries.map((e) => e.line).join('\n'));
    return [];
  } catch (err) {
    return afterRefusal(entries, err, post);
  }
}

/** `entries` were sent in one request that failed with `err`: finds the lines refused, as {@link deliverLines} does. */
async function afterRefusal(
  entries: readonly IdentifiedLine[],
  err: unknown,
  post: PostBody,
): Promise<RejectedPoint[]> {
  const failure = classifyWriteFailure(err);
  if (failure.kind === 'error') throw failure.error;
  if (entries.length === 1) {
    return entries.map((e) => ({
      id: e.id,
      reason: `InfluxDB rejected the point (HTTP ${failure.status}): ${failure.message}`,
      kind: 'payload',
    }));
  }
  const named =
    failure.status === 400
      ? namedLines(
          failure.message,
          entries.map((e) => e.line),
        )
      : new Map<number, string>();
  if (named.size > 0) {
    // namedLines only names indices of the lines it was given, so every entry is found.
    const rejected = [...named].flatMap(([i, reason]) => {
      const entry = entries[i];
      return entry ? [{ id: entry.id, reason: `InfluxDB: ${reason}`, kind: 'payload' as const }] : [];
    });
    const rest = entries.filter((_, i) => !named.has(i));
    return [...rejected, ...(await deliverLines(rest, post))];
  }
  const mid = entries.length >> 1;
  const left = await deliverLines(entries.slice(0, mid), post);
  const right = await deliverLines(entries.slice(mid), post);
  return [...left, ...right];
}

/** One request: its points, and their lines joined by '\n'. */
export interface LineRequest {
  points: readonly DataPoint[];
  body: string;
}

/**
 * Sends one request (the host's batch: the host already cut it by count and bytes, so it is not
 * split again here) under {@link deliverLines}'s rules. While it is in flight only its body is kept,
 * not one string per line: lines held for a round trip outlive young-generation collections and get
 * promoted, which cost this connector 2.6x the GC time of the official client's write loop. Only
 * when InfluxDB refuses lines are they rendered again (`render`) to find which. Returns the poison
 * points (`payload`), every other point acknowledged; throws the classified error otherwise.
 */
export async function deliverRequest(
  request: LineRequest,
  render: (point: DataPoint) => string,
  post: PostBody,
): Promise<RejectedPoint[]> {
  if (request.points.length === 0) return [];
  try {
    await post(request.body);
    return [];
  } catch (err) {
    return afterRefusal(
      request.points.map((p) => ({ id: p.id, line: render(p) })),
      err,
      post,
    );
  }
}
