import { describe, expect, it } from 'vitest';
import { AuthError, CapacityError, ConfigError, PayloadError, TransientError } from '@bifrost/core';
import { classifyAzureError } from '../src/index.js';

const scene = { identity: 'hub/d1', auth: 'key' as const };
const sdkError = (name: string, message = 'x', extra: object = {}) =>
  Object.assign(new Error(message), { name }, extra);

describe('classifyAzureError', () => {
  it.each([
    ['UnauthorizedError', AuthError],
    ['DeviceNotFoundError', AuthError],
    ['ThrottlingError', CapacityError],
    ['IotHubQuotaExceededError', CapacityError],
    ['MessageTooLargeError', PayloadError],
    ['IotHubNotFoundError', ConfigError],
    ['NotConnectedError', TransientError],
    ['TimeoutError', TransientError],
    ['ServiceUnavailableError', TransientError],
  ])('%s', (name, kind) => {
    const err = classifyAzureError(sdkError(name), scene, ['p1']);
    expect(err).toBeInstanceOf(kind);
    expect(err.code).toMatch(/^BIFROST_ERR_[A-Z_]+$/);
    expect(err.message).not.toMatch(/^\[bifrost\]/);
  });

  it('a refused CONNACK on the first connection is auth, naming what to check', () => {
    const err = classifyAzureError(
      sdkError(
        'UnauthorizedError',
        'mqtt.js returned Failure on first connection (Not authorized): Connection refused: Not authorized error',
      ),
      { identity: 'hub/d1', auth: 'x509' },
    );
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toMatch(/certificate/);
  });

  it('a socket or TLS failure the SDK reports as "Failure on first connection (Not authorized)" is not auth', () => {
    const first = (m: string) =>
      sdkError('UnauthorizedError', `mqtt.js returned Failure on first connection (Not authorized): ${m} error`);
    expect(classifyAzureError(first('connect ECONNREFUSED 127.0.0.1:8883'), scene)).toMatchObject({
      kind: 'transient',
      code: 'BIFROST_ERR_NET_ECONNREFUSED',
    });
    expect(classifyAzureError(first('self-signed certificate in certificate chain'), scene)).toBeInstanceOf(
      ConfigError,
    );
  });

  it('a TLS error under a NotConnectedError is config', () => {
    const err = classifyAzureError(
      sdkError('NotConnectedError', 'x', {
        transportError: Object.assign(new Error('bad'), { code: 'CERT_HAS_EXPIRED' }),
      }),
      scene,
    );
    expect(err).toBeInstanceOf(ConfigError);
  });
});
