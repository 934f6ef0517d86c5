import { randomBytes } from 'node:crypto';
import type { Collector, ReceivedPoint } from '@bifrost/connector-testkit';
import { connect, type IClientOptions } from 'mqtt';

/**
 * Reads back what the connector published: subscribes to `topicFilter` at QoS 1 with a persistent
 * session and reconnects on its own, so broker restarts lose nothing the broker kept. Parses `json`
 * (object) and `json-batch` (array) payloads and keeps the first copy of each id.
 */
export async function mqttCollector(
  url: string,
  topicFilter: string,
  options: IClientOptions = {},
): Promise<Collector> {
  const received = new Map<string, ReceivedPoint>();
  let duplicates = 0;
  const client = connect(url, {
    clientId: `conf-reader-${randomBytes(4).toString('hex')}`,
    clean: false,
    reconnectPeriod: 100,
    connectTimeout: 5_000,
    ...options,
    ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}),
  });
  client.on('error', () => undefined);
  client.on('message', (_topic, payload) => {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    for (const p of Array.isArray(parsed) ? parsed : [parsed]) {
      const point = p as ReceivedPoint;
      if (received.has(point.id)) duplicates++;
      else received.set(point.id, point);
    }
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  await client.subscribeAsync(topicFilter, { qos: 1 });
  return {
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const missing = () => ids.some((id) => !received.has(id));
      while (missing() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const out = new Map<string, ReceivedPoint>();
      for (const id of ids) {
        const p = received.get(id);
        if (p) out.set(id, p);
      }
      return out;
    },
    async close() {
      if (duplicates) process.stdout.write(`[mqtt-collector] ${duplicates} duplicate deliveries (at-least-once)\n`);
      await client.unsubscribeAsync(topicFilter).catch(() => undefined);
      await client.endAsync(true);
    },
  };
}
