import { describe, expect, it } from 'vitest';
import { PartialWriteError, TransientError, type DataPoint } from '@bifrost/core';
import { insertRowByRow } from '../src/index.js';

const points = (n: number): DataPoint[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    deviceId: 'd',
    tagName: 't',
    value: i,
    quality: 'GOOD',
    timestamp: i,
  }));
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('insertRowByRow', () => {
  it("commits every row but the refused ones, which carry PostgreSQL's reason", async () => {
    const stored: string[] = [];
    const err = await insertRowByRow(points(6), async (p) => {
      if (p.id === 'p1' || p.id === 'p4') throw pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00');
      stored.push(p.id);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    const partial = err as PartialWriteError;
    expect(partial.accepted).toEqual(['p0', 'p2', 'p3', 'p5']);
    expect(stored).toEqual(partial.accepted);
    expect(partial.rejected).toEqual([
      { id: 'p1', reason: 'PostgreSQL 22021: invalid byte sequence for encoding "UTF8": 0x00', kind: 'payload' },
      { id: 'p4', reason: 'PostgreSQL 22021: invalid byte sequence for encoding "UTF8": 0x00', kind: 'payload' },
    ]);
    // Unprefixed: the host prefixes messages once.
    expect(partial.message).toMatch(/^4 point\(s\) accepted, 2 rejected/);
  });

  it('hands back the untried rows as transient when the server goes away half-way', async () => {
    const err = (await insertRowByRow(points(5), async (p) => {
      if (p.id === 'p0') throw pgError('23514', 'check constraint');
      if (p.id === 'p3') throw Object.assign(new Error('Connection terminated unexpectedly'), {});
    }).catch((e: unknown) => e)) as PartialWriteError;
    expect(err.accepted).toEqual(['p1', 'p2']);
    expect(err.rejected.map((r) => [r.id, r.kind])).toEqual([
      ['p0', 'payload'],
      ['p3', 'transient'],
      ['p4', 'transient'],
    ]);
  });

  it('throws the connection error itself when no row got through', async () => {
    const err = await insertRowByRow(points(3), async () => {
      throw pgError('08006', 'connection failure');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('BIFROST_ERR_PG_08006');
  });
});
