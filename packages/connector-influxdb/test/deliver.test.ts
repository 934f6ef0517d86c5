import { describe, expect, it } from 'vitest';
import { HttpError } from '@influxdata/influxdb-client';
import { AuthError, CapacityError, ConfigError, TransientError } from '@bifrost/core';
import type { DataPoint } from '@bifrost/core';
import { classifyWriteFailure, deliverLines, deliverRequest, namedLines, type IdentifiedLine } from '../src/index.js';

const json = (status: number, body: object, retryAfter?: string) =>
  new HttpError(status, 'x', JSON.stringify(body), retryAfter, 'application/json');
/** The line of entry `i`, as `entries` makes it. */
const lineAt = (i: number) => `m v=${i} ${i}`;
const entries = (n: number): IdentifiedLine[] =>
  Array.from({ length: n }, (_, i) => ({ id: `p${i}`, line: lineAt(i) }));

/** A fake server: rejects any request containing a poison line with a 400 that names no line. */
function fakeServer(poison: Set<string>, message = 'partial write: field type conflict dropped=1') {
  const requests: string[][] = [];
  const stored = new Set<string>();
  const post = (body: string) => {
    const lines = body.split('\n');
    requests.push(lines);
    for (const l of lines) if (!poison.has(l)) stored.add(l);
    if (lines.some((l) => poison.has(l))) return Promise.reject(json(400, { error: message }));
    return Promise.resolve();
  };
  return { post, requests, stored };
}

describe('deliverLines', () => {
  it('sends everything in one request when the server accepts it', async () => {
    const s = fakeServer(new Set());
    expect(await deliverLines(entries(10), s.post)).toEqual([]);
    expect(s.requests).toHaveLength(1);
  });

  it('bisects an unnamed 400 down to the poison lines and gets every other line acknowledged', async () => {
    const all = entries(64);
    const s = fakeServer(new Set([lineAt(5), lineAt(40)]));
    const rejected = await deliverLines(all, s.post);
    expect(rejected.map((r) => r.id).sort()).toEqual(['p40', 'p5']);
    expect(rejected[0]?.reason).toMatch(/HTTP 400.*field type conflict/);
    expect(s.stored.size).toBe(62);
    expect(s.requests.length).toBeLessThan(30);
  });

  it('uses the lines a 1.x parse error quotes, then resends the rest once', async () => {
    const all = entries(5);
    const requests: number[] = [];
    const post = (body: string) => {
      const lines = body.split('\n');
      requests.push(lines.length);
      if (lines.includes(lineAt(2)))
        return Promise.reject(
          json(400, { error: `partial write: unable to parse '${lineAt(2)}': invalid field format dropped=0` }),
        );
      return Promise.resolve();
    };
    const rejected = await deliverLines(all, post);
    expect(rejected).toEqual([
      { id: 'p2', reason: 'InfluxDB: unable to parse line: invalid field format', kind: 'payload' },
    ]);
    expect(requests).toEqual([5, 4]);
  });

  it('throws non-line errors classified, without bisecting', async () => {
    let calls = 0;
    const post = () => {
      calls++;
      return Promise.reject(json(401, { error: 'authorization failed' }));
    };
    await expect(deliverLines(entries(8), post)).rejects.toBeInstanceOf(AuthError);
    expect(calls).toBe(1);
  });
});

describe('deliverRequest', () => {
  /** Points whose line is `m v=<i> <i>`, as `entries` has them. */
  const points = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ id: `p${i}`, value: i }) as unknown as DataPoint);
  const render = (p: DataPoint) => `m v=${p.value as number} ${p.value as number}`;
  const requestOf = (n: number) => {
    const all = points(n);
    return { points: all, body: all.map(render).join('\n') };
  };

  it('sends the whole host batch as one request (the host already cut it)', async () => {
    const sizes: number[] = [];
    const post = async (body: string) => {
      sizes.push(body.split('\n').length);
    };
    expect(await deliverRequest(requestOf(25), render, post)).toEqual([]);
    expect(sizes).toEqual([25]);
  });

  it('sends nothing for an empty request', async () => {
    let calls = 0;
    const post = async () => {
      calls++;
    };
    expect(await deliverRequest({ points: [], body: '' }, render, post)).toEqual([]);
    expect(calls).toBe(0);
  });

  it('renders the lines of a refused request again to find the poison, and gets the rest acknowledged', async () => {
    const all = entries(20);
    const s = fakeServer(new Set([all[13]!.line]));
    const rejected = await deliverRequest(requestOf(20), render, s.post);
    expect(rejected.map((r) => [r.id, r.kind])).toEqual([['p13', 'payload']]);
    expect(s.stored.size).toBe(19);
  });

  it('throws the classified error when the request failed', async () => {
    const post = async () => {
      throw json(503, { error: 'busy' }, '2');
    };
    const err = await deliverRequest(requestOf(20), render, post).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapacityError);
    expect((err as CapacityError).retryAfterMs).toBe(2000);
  });
});

describe('namedLines', () => {
  it('reads 2.x line numbers (1-based)', () => {
    const lines = ['a', 'b', 'c'];
    expect([
      ...namedLines(
        'failed to parse line protocol: errors encountered on line(s):\nline 2: invalid field format\nline 3: bad',
        lines,
      ),
    ]).toEqual([
      [1, 'invalid field format'],
      [2, 'bad'],
    ]);
  });
  it('names nothing for a type conflict', () => {
    expect(
      namedLines(
        'partial write: field type conflict: input field "value" on measurement "m" is type string, already exists as type float dropped=1',
        ['m value="x" 1'],
      ).size,
    ).toBe(0);
  });
});

describe('classifyWriteFailure', () => {
  const err = (f: ReturnType<typeof classifyWriteFailure>) => (f.kind === 'error' ? f.error : undefined);
  it('maps HTTP statuses to classified errors', () => {
    expect(err(classifyWriteFailure(json(401, { error: 'authorization failed' })))).toBeInstanceOf(AuthError);
    expect(err(classifyWriteFailure(json(403, { error: 'forbidden' })))).toBeInstanceOf(AuthError);
    const notFound = err(classifyWriteFailure(json(404, { error: 'database not found: "nope"' })));
    expect(notFound).toBeInstanceOf(ConfigError);
    expect(notFound?.message).toMatch(/database not found: "nope"/);
    const busy = err(classifyWriteFailure(json(429, { message: 'slow down' }, '7')));
    expect(busy).toBeInstanceOf(CapacityError);
    expect((busy as CapacityError).retryAfterMs).toBe(7000);
    expect(err(classifyWriteFailure(json(503, { error: 'x' })))).toBeInstanceOf(CapacityError);
    expect(err(classifyWriteFailure(json(500, { error: 'timeout' })))).toBeInstanceOf(TransientError);
    expect(err(classifyWriteFailure(json(400, { error: 'database is required' })))).toBeInstanceOf(ConfigError);
    expect(classifyWriteFailure(json(400, { error: 'partial write: x dropped=1' })).kind).toBe('lines');
    expect(classifyWriteFailure(json(413, { error: 'too large' })).kind).toBe('lines');
    expect(
      classifyWriteFailure(
        json(422, { code: 'unprocessable entity', message: 'points beyond retention policy dropped=1' }),
      ).kind,
    ).toBe('lines');
    expect(err(classifyWriteFailure(json(405, { error: 'method not allowed' })))).toBeInstanceOf(ConfigError);
  });
  it('classifies network errors through core', () => {
    const e = err(classifyWriteFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
    expect(e).toBeInstanceOf(TransientError);
    expect(e?.code).toBe('BIFROST_ERR_NET_ECONNREFUSED');
  });
});
