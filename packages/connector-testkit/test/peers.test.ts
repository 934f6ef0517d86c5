import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogRing } from '../src/peers/log-ring.js';
import { mosquittoConf } from '../src/peers/mosquitto.js';
import { requirePeer } from '../src/peers/require-peer.js';
import { INSTALL_HINT, findBinary } from '../src/peers/binaries.js';

describe('requirePeer', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('outside CI reports a missing peer as unavailable with the install hint', () => {
    vi.stubEnv('CI', '');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const req = requirePeer('mosquitto', () => undefined);
    expect(req).toMatchObject({ available: false, found: undefined });
    expect(req.reason).toBe(`mosquitto is not installed; ${INSTALL_HINT}`);
    expect(String(stderr.mock.calls[0]?.[0])).toContain('skipping mosquitto tests');
    stderr.mockRestore();
  });

  it('with CI=true throws, naming the peer and the reason', () => {
    vi.stubEnv('CI', 'true');
    expect(() => requirePeer('kafka', () => ({ missing: 'jars not found in /x' }))).toThrow(
      `[testkit] kafka is required in CI: jars not found in /x; ${INSTALL_HINT}`,
    );
  });

  it('passes through what the check found, and turns a throwing check into a reason', () => {
    vi.stubEnv('CI', 'true');
    expect(requirePeer('node', () => ({ bin: '/usr/bin/node' }))).toEqual({
      name: 'node',
      available: true,
      found: { bin: '/usr/bin/node' },
      reason: undefined,
    });
    expect(() =>
      requirePeer('x', () => {
        throw new Error('boom');
      }),
    ).toThrow(/required in CI: boom/);
  });
});

describe('LogRing', () => {
  it('keeps the last lines, joining chunks split mid-line', () => {
    const ring = new LogRing(3);
    ring.push('a\nb');
    ring.push('c\nd\ne\n');
    ring.push('partial');
    expect(ring.text()).toBe('d\ne\npartial');
    expect(ring.text(1)).toBe('partial');
  });
});

describe('findBinary', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('honours an explicit env path and reports a wrong one as missing', () => {
    vi.stubEnv('BIFROST_TEST_BIN', process.execPath);
    expect(findBinary('anything', { env: 'BIFROST_TEST_BIN' })).toBe(process.execPath);
    vi.stubEnv('BIFROST_TEST_BIN', '/nonexistent/bin');
    expect(findBinary('sh', { env: 'BIFROST_TEST_BIN' })).toBeUndefined();
    expect(findBinary('sh')).toMatch(/\/sh$/);
  });
});

describe('mosquittoConf', () => {
  const ctx = {
    name: 'mosquitto',
    dir: '/tmp/p',
    host: '127.0.0.1' as const,
    ports: { mqtt: 1883, mqtts: 8883, mqttsMutual: 8884 },
    osUser: undefined,
  };

  it('sets max_packet_size and max_inflight_messages in the global section when asked', () => {
    const conf = mosquittoConf(ctx, { hasPasswords: false, maxPacketSize: 131_584, maxInflight: 100 });
    const global = conf.slice(0, conf.indexOf('listener '));
    expect(global).toContain('max_packet_size 131584\n');
    expect(global).toContain('max_inflight_messages 100\n');
    expect(mosquittoConf(ctx, { hasPasswords: false })).not.toContain('max_packet_size');
  });

  it('binds every listener to loopback and requires a client certificate only on the mTLS one', () => {
    const conf = mosquittoConf(ctx, { hasPasswords: true, tlsDir: '/tmp/p/tls' });
    expect(conf).toContain('allow_anonymous false');
    expect(conf).toContain('password_file /tmp/p/passwd');
    expect(conf).toMatch(/listener 1883 127\.0\.0\.1\n/);
    expect(conf).toMatch(/listener 8883 127\.0\.0\.1\n(.+\n){3}require_certificate false/);
    expect(conf).toMatch(/listener 8884 127\.0\.0\.1\n(.+\n){3}require_certificate true/);
  });

  it('allows anonymous clients without users unless told otherwise', () => {
    expect(mosquittoConf(ctx, { hasPasswords: false })).toContain('allow_anonymous true');
    expect(mosquittoConf(ctx, { hasPasswords: false, allowAnonymous: false })).toContain('allow_anonymous false');
    expect(mosquittoConf(ctx, { hasPasswords: false })).not.toContain('listener 8883');
  });
});
