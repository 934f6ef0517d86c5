import { describe, expect, it } from 'vitest';
import { ConfigError } from '@bifrost/core';
import { azureIotConfigSchema, parseConnectionString } from '../src/index.js';

const KEY = Buffer.from('k'.repeat(32)).toString('base64');

describe('parseConnectionString', () => {
  it('reads a device connection string with a key, a module and a gateway', () => {
    expect(
      parseConnectionString(
        `HostName=hub.azure-devices.net;DeviceId=d1;ModuleId=m1;SharedAccessKey=${KEY};GatewayHostName=edge:8883`,
        false,
      ),
    ).toEqual({
      hostName: 'hub.azure-devices.net',
      deviceId: 'd1',
      moduleId: 'm1',
      gatewayHostName: 'edge:8883',
      auth: 'key',
    });
  });

  it('reads a fixed token and an X.509 identity', () => {
    const token = 'SharedAccessSignature sr=hub%2Fdevices%2Fd1&sig=abc%3D&se=1';
    expect(parseConnectionString(`HostName=h;DeviceId=d1;SharedAccessSignature=${token}`, false)).toMatchObject({
      auth: 'token',
      sharedAccessSignature: token,
    });
    expect(parseConnectionString('HostName=h;DeviceId=d1;x509=true', true).auth).toBe('x509');
    expect(parseConnectionString('HostName=h;DeviceId=d1', true).auth).toBe('x509');
  });

  it.each([
    ['DeviceId=d1;SharedAccessKey=k', /HostName is missing/],
    ['HostName=h;SharedAccessKey=k', /DeviceId is missing/],
    ['HostName=h;DeviceId=d', /SharedAccessKey is missing/],
    ['HostName=h;DeviceId=d;Foo=1;SharedAccessKey=k', /unknown field Foo/],
    ['HostName=h;SharedAccessKeyName=iothubowner;SharedAccessKey=k;DeviceId=d', /hub-level/],
    ['HostName=h;DeviceId=d;x509=true', /set x509: true/],
    ['HostName=h;DeviceId=d;garbage', /not Key=Value/],
  ])('refuses %s naming the field, never echoing the key', (cs, message) => {
    let err: unknown;
    try {
      parseConnectionString(cs, false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^connection_string: /);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('SharedAccessKey=k');
  });

  it('refuses a key with x509: true', () => {
    expect(() => parseConnectionString(`HostName=h;DeviceId=d;SharedAccessKey=${KEY}`, true)).toThrow(
      /x509 authentication takes no SharedAccessKey/,
    );
  });
});

describe('azureIotConfigSchema', () => {
  it('fills the defaults', () => {
    expect(azureIotConfigSchema.parse({ connection_string: 'x' })).toMatchObject({
      x509: false,
      transport: 'mqtt',
      messages: 'point',
      properties: {},
      max_inflight: 1000,
      sas_ttl: 3_600_000,
      twin_update: false,
      twin_interval: 30_000,
    });
  });

  it('names the field of a bad value', () => {
    const r = azureIotConfigSchema.safeParse({ connection_string: 'x', twin_interval: '10ms', sas_ttl: '1s' });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['sas_ttl', 'twin_interval']);
  });
});
