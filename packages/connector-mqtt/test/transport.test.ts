import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { openClient } from '../src/transport.js';

const require = createRequire(import.meta.url);
const opened: MqttClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.end(true);
});

/** Opens a client to a port nothing listens on and waits for its connection error. */
async function refused(url: string, options = {}): Promise<{ client: MqttClient; error: NodeJS.ErrnoException }> {
  const client = openClient(new URL(url), { reconnectPeriod: 0, connectTimeout: 2000, ...options });
  opened.push(client);
  // As the connector does: a TLS failure is reported twice (socket and client), like mqtt.js's own.
  client.on('error', () => {});
  const error = await new Promise<NodeJS.ErrnoException>((resolve) =>
    client.once('error', (err) => resolve(err as NodeJS.ErrnoException)),
  );
  return { client, error };
}

/** mqtt.js modules of its transports that are loaded. */
const transportsLoaded = () => Object.keys(require.cache).filter((f) => /mqtt\/build\/lib\/connect\//.test(f));

describe('openClient', () => {
  it('opens plain MQTT and MQTT over TLS without loading mqtt.js transports (WebSocket, SOCKS)', async () => {
    for (const url of ['mqtt://127.0.0.1:1', 'tcp://127.0.0.1:1', 'mqtts://127.0.0.1:1', 'ssl://localhost:1']) {
      const { error } = await refused(url);
      expect(error.code, url).toBe('ECONNREFUSED');
    }
    expect(transportsLoaded()).toEqual([]);
  });

  it('takes an IPv6 host without its brackets, and user name and password from the URL', async () => {
    const { client, error } = await refused('mqtt://us%40er:p%3Ass@[::1]:1');
    expect(error.code).toBe('ECONNREFUSED');
    expect((error as { address?: string }).address).toBe('::1');
    expect(client.options).toMatchObject({ username: 'us@er', password: 'p:ss' });
  });

  it('keeps the user name and password of the options over those of the URL', async () => {
    const { client } = await refused('mqtt://a:b@127.0.0.1:1', { username: 'cfg', password: 'secret' });
    expect(client.options).toMatchObject({ username: 'cfg', password: 'secret' });
  });

  // Last: once loaded, mqtt.js's transports stay in the module cache.
  it('hands WebSocket URLs to mqtt.js connect(), which loads its transports', async () => {
    const { error } = await refused('ws://127.0.0.1:1/mqtt');
    expect(error.message).toMatch(/ECONNREFUSED|connect/i);
    expect(transportsLoaded().some((f) => f.endsWith('connect/ws.js'))).toBe(true);
  });
});
