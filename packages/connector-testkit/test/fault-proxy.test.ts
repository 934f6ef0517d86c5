import { createServer, connect, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinnedPort, startFaultProxy } from '../src/peers/index.js';

/** An echo server standing in for any TCP peer. */
let echo: Server;
let port: number;
beforeAll(async () => {
  echo = createServer((s) => {
    s.on('error', () => {}); // the reset_peer fault resets this side too
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  port = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => echo.close(() => r())));

function roundTrip(at: { host: string; port: number }, timeoutMs = 3000): Promise<{ ms: number; result: string }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const s = connect(at.port, at.host, () => s.write('ping'));
    const done = (result: string) => {
      s.destroy();
      resolve({ ms: Date.now() - started, result });
    };
    s.on('data', (b) => done(b.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
    setTimeout(() => done('timeout'), timeoutMs).unref();
  });
}

describe('startFaultProxy (node engine) in front of any TCP peer', () => {
  it('forwards, delays with latency, swallows with timeout, resets with reset_peer, heals', async () => {
    const proxy = await startFaultProxy({ upstream: { host: '127.0.0.1', port }, engine: 'node' });
    try {
      expect(proxy.engine).toBe('node');
      expect((await roundTrip(proxy.listen)).result).toBe('ping');
      let heal = await proxy.inject({ type: 'latency', latencyMs: 300 });
      const slow = await roundTrip(proxy.listen);
      expect(slow.result).toBe('ping');
      expect(slow.ms).toBeGreaterThanOrEqual(550); // both directions
      await heal();
      heal = await proxy.inject({ type: 'timeout', timeoutMs: 0 });
      expect((await roundTrip(proxy.listen, 500)).result).toBe('timeout');
      await heal();
      heal = await proxy.inject({ type: 'reset_peer', timeoutMs: 50 });
      expect((await roundTrip(proxy.listen)).result).toBe('ECONNRESET');
      await heal();
      expect((await roundTrip(proxy.listen)).result).toBe('ping');
    } finally {
      await proxy.close();
    }
  });
});

describe('pinnedPort', () => {
  it('takes the spec option first, then BIFROST_PEER_PORT_<NAME>_<PORT>, else none', () => {
    expect(pinnedPort({ name: 'mosquitto', fixedPorts: { mqtt: 1883 } }, 'mqtt', {})).toBe(1883);
    expect(pinnedPort({ name: 'mosquitto' }, 'mqtt', { BIFROST_PEER_PORT_MOSQUITTO_MQTT: '1884' })).toBe(1884);
    expect(pinnedPort({ name: 'my-peer' }, 'http', { BIFROST_PEER_PORT_MY_PEER_HTTP: '8080' })).toBe(8080);
    expect(pinnedPort({ name: 'mosquitto' }, 'mqtt', {})).toBeUndefined();
    expect(() => pinnedPort({ name: 'x' }, 'p', { BIFROST_PEER_PORT_X_P: 'abc' })).toThrow(/not a port number/);
  });
});

describe('cut_on_marker (node engine)', () => {
  /** Sends `parts` one chunk at a time; resolves with what came back or the error code. */
  function send(at: { host: string; port: number }, parts: string[]): Promise<string> {
    return new Promise((resolve) => {
      let got = '';
      const writeAll = async () => {
        for (const p of parts) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 30));
        }
        setTimeout(() => {
          s.destroy();
          resolve(got);
        }, 200);
      };
      const s = connect(at.port, at.host, () => void writeAll());
      s.on('data', (b) => (got += b.toString()));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
  }

  it('resets a connection whose client bytes carry the marker, also split across chunks; others pass', async () => {
    const proxy = await startFaultProxy({ upstream: { host: '127.0.0.1', port }, engine: 'node' });
    try {
      const heal = await proxy.inject({ type: 'cut_on_marker', marker: 'POISON42' });
      expect(await send(proxy.listen, ['good ', 'points'])).toBe('good points');
      expect(await send(proxy.listen, ['one ', 'xPOISON42x'])).toBe('ECONNRESET');
      expect(await send(proxy.listen, ['one POI', 'SON42 two'])).toBe('ECONNRESET');
      await heal();
      expect(await send(proxy.listen, ['POISON42'])).toBe('POISON42');
      await expect(proxy.inject({ type: 'cut_on_marker', marker: '' })).rejects.toThrow(/marker/);
    } finally {
      await proxy.close();
    }
  });
});
