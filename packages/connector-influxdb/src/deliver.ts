import { classifyError, type BifrostError, type RejectedPoint } from '@bifrost/core';
import { classifyWriteFailure, namedLines } from './http-errors.js';

/** One point's line, keyed by the point id. */
export interface IdentifiedLine {
  id: string;
  line: string;
}

/** Sends lines in one request; resolves on 204, rejects with the client's error otherwise. */
export type PostLines = (lines: readonly string[]) => Promise<void>;

/**
 * Writes `entries` and returns the points InfluxDB will never accept (poison), having had every
 * other line acknowledged. When the server rejects lines (400, 413, 422) it names them if it can
 * (parse errors); otherwise the set is bisected and each half resent until the culprits are
 * single lines. Resending is safe: the same series+timestamp overwrites, it never duplicates.
 * Any other failure (auth, capacity, network) is thrown classified, and the caller retries the
 * whole batch.
 */
export async function deliverLines(entries: readonly IdentifiedLine[], post: PostLines): Promise<RejectedPoint[]> {
  if (entries.length === 0) return [];
  try {
    await post(entries.map((e) => e.line));
    return [];
  } catch (err) {
    const failure = classifyWriteFailure(err);
    if (failure.kind === 'error') throw failure.error;
    if (entries.length === 1) {
      return [{ id: entries[0]!.id, reason: `InfluxDB rejected the point (HTTP ${failure.status}): ${failure.message}`, kind: 'payload' }];
    }
    const named = failure.status === 400 ? namedLines(failure.message, entries.map((e) => e.line)) : new Map<number, string>();
    if (named.size > 0) {
      const rejected = [...named].map(([i, reason]) => ({ id: entries[i]!.id, reason: `InfluxDB: ${reason}`, kind: 'payload' as const }));
      const rest = entries.filter((_, i) => !named.has(i));
      return [...rejected, ...(await deliverLines(rest, post))];
    }
    const mid = entries.length >> 1;
    const left = await deliverLines(entries.slice(0, mid), post);
    const right = await deliverLines(entries.slice(mid), post);
    return [...left, ...right];
  }
}

/**
 * Sends `entries` as requests of at most `chunkSize` lines, in parallel, each through
 * {@link deliverLines}. Returns the points not acknowledged: poison ones (`payload`) and, when some
 * requests failed while others succeeded, the points of the failed requests (`transient`: retried
 * later, the rest stays acknowledged). Throws the classified error when every request failed.
 */
export async function deliverChunks(entries: readonly IdentifiedLine[], chunkSize: number, post: PostLines): Promise<RejectedPoint[]> {
  const chunks: IdentifiedLine[][] = [];
  for (let i = 0; i < entries.length; i += chunkSize) chunks.push(entries.slice(i, i + chunkSize));
  const results = await Promise.allSettled(chunks.map((c) => deliverLines(c, post)));
  const failed: Array<{ chunk: IdentifiedLine[]; error: BifrostError }> = [];
  const rejected: RejectedPoint[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') rejected.push(...r.value);
    else failed.push({ chunk: chunks[i]!, error: classifyError(r.reason) });
  });
  if (failed.length > 0 && failed.length === chunks.length) throw failed[0]!.error;
  for (const f of failed) for (const e of f.chunk) rejected.push({ id: e.id, reason: f.error.message, kind: 'transient' });
  return rejected;
}
