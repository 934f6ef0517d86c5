import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pointJsonBytes, type DataPoint } from '@bifrost/core';
import { hmacSignature, idempotencyKey, renderBody } from '../src/index.js';

const point = (id: string, extra: Partial<DataPoint> = {}): DataPoint => ({
  id,
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 1_764_921_600_000,
  ...extra,
});

describe('wire format', () => {
  it('renders json, ndjson and point bodies', () => {
    const pts = [point('a'), point('b')];
    expect((JSON.parse(renderBody('json', pts)) as DataPoint[]).map((p) => p.id)).toEqual(['a', 'b']);
    const nd = renderBody('ndjson', pts);
    expect(nd.endsWith('\n')).toBe(true);
    expect(
      nd
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as DataPoint).id),
    ).toEqual(['a', 'b']);
    expect((JSON.parse(renderBody('point', pts.slice(0, 1))) as DataPoint).id).toBe('a');
    expect(() => renderBody('point', pts)).toThrow(RangeError);
  });

  it('never puts the priority on the wire, in any format', () => {
    const pts = [point('a', { priority: 9 }), point('b')];
    for (const format of ['json', 'ndjson'] as const) expect(renderBody(format, pts)).not.toContain('priority');
    expect(renderBody('point', pts.slice(0, 1))).not.toContain('priority');
    expect(JSON.parse(renderBody('json', pts))).toEqual([point('a'), point('b')]);
  });

  it('keeps the id and every field but the host’s priority, in every format', () => {
    const p = point('a', { priority: 9, unit: '°C', tags: { line: '1' } });
    const sent = { ...point('a'), unit: '°C', tags: { line: '1' } };
    expect(JSON.parse(renderBody('json', [p]))).toEqual([sent]);
    expect(JSON.parse(renderBody('ndjson', [p]))).toEqual(sent);
    expect(JSON.parse(renderBody('point', [p]))).toEqual(sent);
  });

  it('bodies are core’s pointJsonBytes of their points, plus one for a JSON array (what cutByBytes relies on)', () => {
    const pts = [point('a', { unit: '°C', priority: 3 }), point('b', { tags: { line: 'Förderband' } })];
    const sum = pts.reduce((n, p) => n + pointJsonBytes(p), 0);
    expect(Buffer.byteLength(renderBody('ndjson', pts))).toBe(sum);
    expect(Buffer.byteLength(renderBody('json', pts))).toBe(sum + 1);
  });
});

describe('idempotencyKey', () => {
  it('is the same for the same points in any order', () => {
    expect(idempotencyKey(['b', 'a', 'c'])).toBe(idempotencyKey(['a', 'b', 'c']));
    expect(idempotencyKey(['a'])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs for another set of points', () => {
    expect(idempotencyKey(['a', 'b'])).not.toBe(idempotencyKey(['a', 'b', 'c']));
    expect(idempotencyKey(['ab'])).not.toBe(idempotencyKey(['a', 'b']));
  });
});

describe('hmacSignature', () => {
  it('is sha256=<hex HMAC-SHA256> of the body, verifiable with the shared secret', () => {
    const body = '[{"id":"a"}]';
    const sig = hmacSignature('s3cret', body);
    expect(sig).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(hmacSignature('other', body)).not.toBe(sig);
  });
});
