import { describe, expect, it } from 'vitest';
import { AuthError, ConfigError, TransientError, classifyError } from './errors.js';

describe('classifyError', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'])('%s is transient', (code) => {
    const err = Object.assign(new Error(`connect ${code} 127.0.0.1:1883`), { code });
    const c = classifyError(err, 'mqtt:plant-a');
    expect(c).toBeInstanceOf(TransientError);
    expect(c.code).toBe(`BIFROST_ERR_NET_${code}`);
    expect(c.message).toMatch(/^\[bifrost\] \[mqtt:plant-a\] connect/);
  });

  it('an expired certificate is a config error', () => {
    const c = classifyError(Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' }));
    expect(c).toBeInstanceOf(ConfigError);
  });

  it('a server rejecting our client certificate is an auth error', () => {
    const c = classifyError(
      Object.assign(new Error('sslv3 alert bad certificate'), { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' }),
    );
    expect(c).toBeInstanceOf(AuthError);
  });

  it('passes classified errors through and prefixes once', () => {
    const a = new AuthError('not authorized');
    expect(classifyError(a, 'x:y')).toBe(a);
    expect(classifyError(a, 'x:y').message).toBe('[bifrost] [x:y] not authorized');
  });
});
