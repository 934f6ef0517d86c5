import { describe, expect, it } from 'vitest';
import { AuthError, CapacityError, ConfigError, TransientError } from '@bifrost/core';
import { atPath, bodyExcerpt, classifyResponse, namedRejections, parseRetryAfter, REASON_CHARS } from '../src/index.js';

const NOW = Date.parse('2026-12-05T08:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter(['7', '9'], NOW)).toBe(7_000);
  });

  it('reads an HTTP date as the wait until then, a past date as no wait', () => {
    expect(parseRetryAfter('Sat, 05 Dec 2026 08:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(parseRetryAfter('Sat, 05 Dec 2026 07:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
  });
});

describe('classifyResponse', () => {
  const classify = (status: number, headers: Record<string, string> = {}, body = '') =>
    classifyResponse(status, headers, body, NOW);
  const errorOf = (status: number, headers: Record<string, string> = {}, body = '') => {
    const c = classify(status, headers, body);
    if (c.kind !== 'error') throw new Error(`expected an error, got ${c.kind}`);
    return c.error;
  };

  it('takes every 2xx as success', () => {
    for (const s of [200, 201, 202, 204, 207]) expect(classify(s).kind).toBe('ok');
  });

  it('retries 408 and 5xx as transient', () => {
    for (const s of [408, 500, 502, 504]) {
      const e = errorOf(s, {}, 'upstream hiccup');
      expect(e).toBeInstanceOf(TransientError);
      expect(e.code).toBe(`BIFROST_ERR_HTTP_${s}`);
      expect(e.message).toContain(`HTTP ${s}: upstream hiccup`);
    }
  });

  it('makes 429 and 503 capacity errors, with Retry-After as the earliest next try', () => {
    const plain = errorOf(429) as CapacityError;
    expect(plain).toBeInstanceOf(CapacityError);
    expect(plain.retryAfterMs).toBeUndefined();
    expect((errorOf(429, { 'retry-after': '3' }) as CapacityError).retryAfterMs).toBe(3_000);
    const dated = errorOf(503, { 'retry-after': 'Sat, 05 Dec 2026 08:01:00 GMT' }) as CapacityError;
    expect(dated).toBeInstanceOf(CapacityError);
    expect(dated.retryAfterMs).toBe(60_000);
  });

  it('honours Retry-After on 408 and other 5xx too', () => {
    for (const s of [408, 500, 502]) {
      const e = errorOf(s, { 'retry-after': '2' }) as CapacityError;
      expect(e).toBeInstanceOf(CapacityError);
      expect(e.retryAfterMs).toBe(2_000);
    }
  });

  it('maps 401, 403 and 407 to AuthError', () => {
    for (const s of [401, 403, 407]) expect(errorOf(s, {}, 'nope')).toBeInstanceOf(AuthError);
  });

  it('maps 404 and 405 to ConfigError: a wrong URL is not the points’ fault', () => {
    for (const s of [404, 405]) expect(errorOf(s)).toBeInstanceOf(ConfigError);
  });

  it('asks for a split on 413', () => {
    expect(classify(413, {}, 'too big')).toEqual({ kind: 'too-large', reason: 'body too large (HTTP 413: too big)' });
  });

  it('makes other 4xx payload refusals quoting the first bytes of the body', () => {
    const long = `{"error":"bad value","detail":"${'x'.repeat(500)}"}`;
    for (const s of [400, 409, 415, 422]) {
      const c = classify(s, {}, long);
      expect(c.kind).toBe('payload');
      if (c.kind !== 'payload') continue;
      expect(c.reason).toContain(`HTTP ${s}: {"error":"bad value"`);
      expect(c.reason.length).toBeLessThan(REASON_CHARS + 60);
    }
  });

  it('does not follow redirects: 3xx is a configuration problem', () => {
    expect(errorOf(301)).toBeInstanceOf(ConfigError);
  });

  it('never prefixes its messages (the host does)', () => {
    expect(errorOf(500).message).not.toMatch(/^\[bifrost\]/);
  });
});

describe('bodyExcerpt', () => {
  it('flattens whitespace and cuts long bodies', () => {
    expect(bodyExcerpt('  a\n  b  ')).toBe('a b');
    expect(bodyExcerpt('y'.repeat(1000))).toBe(`${'y'.repeat(REASON_CHARS)}…`);
  });
});

describe('partial responses', () => {
  it('follows a dot path', () => {
    expect(atPath({ a: { b: [1, 2] } }, 'a.b')).toEqual([1, 2]);
    expect(atPath({ a: [{ c: 'x' }] }, 'a.0.c')).toBe('x');
    expect(atPath({ a: 1 }, 'a.b')).toBeUndefined();
  });

  it('reads indexes, ids and objects with a reason', () => {
    expect(namedRejections('{"rejected":[0,2]}', 'rejected')).toEqual([{ index: 0 }, { index: 2 }]);
    expect(namedRejections('{"r":{"ids":["a"]}}', 'r.ids')).toEqual([{ id: 'a' }]);
    expect(
      namedRejections('{"errors":[{"index":1,"error":"bad"},{"id":"z","message":"worse"},{"other":1}]}', 'errors'),
    ).toEqual([
      { index: 1, reason: 'bad' },
      { id: 'z', reason: 'worse' },
    ]);
  });

  it('names nobody when the body is not JSON or the path holds no array', () => {
    expect(namedRejections('oops', 'rejected')).toBeUndefined();
    expect(namedRejections('{"rejected":3}', 'rejected')).toBeUndefined();
    expect(namedRejections('{}', 'rejected')).toBeUndefined();
  });
});
