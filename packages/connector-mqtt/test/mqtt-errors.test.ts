import { AuthError, CapacityError, ConfigError, TransientError } from '@bifrost/core';
import { describe, expect, it } from 'vitest';
import { classifyConnack, classifyConnectError, classifyPublishReason } from '../src/mqtt-errors.js';

describe('classifyConnack', () => {
  it('maps bad credentials and not authorized (3.1.1 and 5) to AuthError', () => {
    for (const rc of [4, 5, 0x86, 0x87, 0x8a, 0x8c]) expect(classifyConnack(rc, 'no')).toBeInstanceOf(AuthError);
    expect(classifyConnack(5, 'Not authorized').code).toBe('BIFROST_ERR_MQTT_NOT_AUTHORIZED');
    expect(classifyConnack(0x86, 'Bad User Name or Password').code).toBe('BIFROST_ERR_MQTT_BAD_CREDENTIALS');
  });

  it('maps protocol and client id refusals to ConfigError, busy brokers to CapacityError, the rest to TransientError', () => {
    for (const rc of [1, 2, 0x84, 0x85]) expect(classifyConnack(rc, 'x')).toBeInstanceOf(ConfigError);
    for (const rc of [0x89, 0x97, 0x9f]) expect(classifyConnack(rc, 'x')).toBeInstanceOf(CapacityError);
    for (const rc of [3, 0x80, 0x88]) expect(classifyConnack(rc, 'x')).toBeInstanceOf(TransientError);
  });
});

describe('classifyPublishReason', () => {
  it('fails the whole write for not authorized (auth) and quota (capacity)', () => {
    const auth = classifyPublishReason(0x87, 'Not authorized');
    expect(auth.poison === false && auth.error).toBeInstanceOf(AuthError);
    const quota = classifyPublishReason(0x97, 'Quota exceeded');
    expect(quota.poison === false && quota.error).toBeInstanceOf(CapacityError);
    expect(quota.poison === false && (quota.error as CapacityError).retryAfterMs).toBeGreaterThan(0);
  });

  it('makes the message poison for payload format invalid, packet too large, topic invalid, implementation specific', () => {
    for (const rc of [0x99, 0x95, 0x90, 0x83]) {
      const v = classifyPublishReason(rc, 'nope');
      expect(v).toMatchObject({ poison: true, code: `BIFROST_ERR_MQTT_PUBLISH_0x${rc.toString(16)}` });
    }
  });

  it('retries an unspecified error', () => {
    const v = classifyPublishReason(0x80, 'Unspecified error');
    expect(v.poison === false && v.error).toBeInstanceOf(TransientError);
  });
});

describe('classifyConnectError', () => {
  it('uses the CONNACK code mqtt.js attaches, else core classification', () => {
    expect(
      classifyConnectError(Object.assign(new Error('Connection refused: Not authorized'), { code: 5 })),
    ).toBeInstanceOf(AuthError);
    expect(
      classifyConnectError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBeInstanceOf(TransientError);
    expect(
      classifyConnectError(
        Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
      ),
    ).toBeInstanceOf(ConfigError);
  });
});
