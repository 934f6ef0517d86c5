import { describe, expect, it } from 'vitest';
import { classifyConnectFailure, classifyPuback, classifyReasonCode, ReasonCode } from '../src/index.js';

describe('classifyReasonCode (CONNACK, DISCONNECT)', () => {
  it.each([
    [ReasonCode.NOT_AUTHORIZED, 'auth'],
    [ReasonCode.BAD_CREDENTIALS, 'auth'],
    [ReasonCode.BANNED, 'auth'],
    [ReasonCode.QUOTA_EXCEEDED, 'capacity'],
    [ReasonCode.SERVER_BUSY, 'capacity'],
    [ReasonCode.MESSAGE_RATE_TOO_HIGH, 'capacity'],
    [ReasonCode.CONNECTION_RATE_EXCEEDED, 'capacity'],
    [ReasonCode.PACKET_TOO_LARGE, 'payload'],
    [ReasonCode.CLIENT_ID_INVALID, 'config'],
    [ReasonCode.SESSION_TAKEN_OVER, 'transient'],
    [ReasonCode.KEEP_ALIVE_TIMEOUT, 'transient'],
  ])('0x%s -> %s', (rc, kind) => {
    const err = classifyReasonCode(rc, 'AWS IoT ended the connection');
    expect(err.kind).toBe(kind);
    expect(err.code).toMatch(/^BIFROST_ERR_AWS_IOT_/);
  });

  it('a capacity error asks for a wait', () => {
    expect(classifyReasonCode(ReasonCode.QUOTA_EXCEEDED, 'x')).toMatchObject({ retryAfterMs: 1000 });
  });

  it('names the session takeover and the policy for not authorized', () => {
    expect(classifyReasonCode(ReasonCode.SESSION_TAKEN_OVER, 'x').message).toMatch(/same client id/);
    expect(classifyReasonCode(ReasonCode.NOT_AUTHORIZED, 'x', 'policy').message).toMatch(/IoT policy/);
  });
});

describe('classifyPuback', () => {
  it('success and no matching subscribers are acknowledgements', () => {
    expect(classifyPuback(0)).toEqual({ ok: true });
    expect(classifyPuback(ReasonCode.NO_MATCHING_SUBSCRIBERS)).toEqual({ ok: true });
  });
  it('packet too large, bad topic or payload: poison', () => {
    for (const rc of [ReasonCode.PACKET_TOO_LARGE, ReasonCode.TOPIC_NAME_INVALID, ReasonCode.PAYLOAD_FORMAT_INVALID])
      expect(classifyPuback(rc)).toMatchObject({ ok: false, poison: true });
  });
  it('not authorized fails the write as auth, quota as capacity', () => {
    expect(classifyPuback(ReasonCode.NOT_AUTHORIZED)).toMatchObject({
      ok: false,
      poison: false,
      error: { kind: 'auth' },
    });
    expect(classifyPuback(ReasonCode.QUOTA_EXCEEDED)).toMatchObject({
      ok: false,
      poison: false,
      error: { kind: 'capacity' },
    });
  });
});

describe('classifyConnectFailure', () => {
  it('a failed TLS handshake is auth, naming the certificate', () => {
    const err = classifyConnectFailure('AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE', 'negotiation failed', 'h:8883');
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/certificate/);
  });
  it('a refused socket is transient', () => {
    expect(classifyConnectFailure('AWS_IO_SOCKET_CONNECTION_REFUSED', 'refused', 'h:8883')).toMatchObject({
      kind: 'transient',
      code: 'BIFROST_ERR_AWS_IOT_CONNECT_SOCKET_CONNECTION_REFUSED',
    });
  });
});
