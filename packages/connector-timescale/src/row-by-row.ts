import { PartialWriteError, type DataPoint, type RejectedPoint } from '@bifrost/core';
import { classifyPgError, isDataError } from './sqlstate.js';

/**
 * Finds the poison rows of a batch PostgreSQL refused with a data error (SQLSTATE class 22/23):
 * inserts the points one by one (each its own autocommitted, duplicate-skipping statement) and
 * throws a {@link PartialWriteError}: refused rows as `payload` (dead-lettered with PostgreSQL's
 * reason), committed ones accepted. If the server goes away half-way, the points not yet tried are
 * handed back as `transient`; if it goes away before any row, that error is thrown as is.
 */
export async function insertRowByRow(
  batch: readonly DataPoint[],
  insertOne: (point: DataPoint) => Promise<void>,
): Promise<never> {
  const accepted: string[] = [];
  const rejected: RejectedPoint[] = [];
  for (const [i, point] of batch.entries()) {
    try {
      await insertOne(point);
      accepted.push(point.id);
    } catch (err) {
      if (isDataError(err)) {
        rejected.push({ id: point.id, reason: classifyPgError(err).message, kind: 'payload' });
        continue;
      }
      const cause = classifyPgError(err);
      if (accepted.length === 0 && rejected.length === 0) throw cause;
      for (const rest of batch.slice(i)) rejected.push({ id: rest.id, reason: cause.message, kind: 'transient' });
      break;
    }
  }
  throw new PartialWriteError(accepted, rejected, { code: 'BIFROST_ERR_PG_PARTIAL_WRITE' });
}
