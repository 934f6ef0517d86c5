import mqtt, { type MqttClient } from 'mqtt';
import { waitUntil } from './net.js';

/**
 * An independent MQTT subscriber with a persistent session that counts how often each point id
 * arrives, so end-to-end tests can check "every accepted id arrived" and report duplicates.
 */
export interface IdSubscriber {
  client: MqttClient;
  /** Point id -> times received. */
  received: Map<string, number>;
  duplicates(): number;
  /** Waits up to `timeoutMs` for every id of `accepted`; returns those that did not arrive. */
  missing(accepted: ReadonlySet<string>, timeoutMs: number): Promise<string[]>;
}

export function subscribeIds(brokerUrl: string, clientId: string, topicFilter: string): IdSubscriber {
  const received = new Map<string, number>();
  const client = mqtt.connect(brokerUrl, { clientId, clean: false, reconnectPeriod: 200, protocolVersion: 4 });
  client.on('connect', (ack) => {
    if (!ack.sessionPresent) client.subscribe(topicFilter, { qos: 1 });
  });
  client.on('message', (_topic, payload) => {
    const id = (JSON.parse(payload.toString()) as { id: string }).id;
    received.set(id, (received.get(id) ?? 0) + 1);
  });
  const absent = (accepted: ReadonlySet<string>) => [...accepted].filter((id) => !received.has(id));
  return {
    client,
    received,
    duplicates: () => [...received.values()].reduce((a, n) => a + (n - 1), 0),
    async missing(accepted, timeoutMs) {
      await waitUntil(
        `all ${accepted.size} accepted points at the subscriber`,
        () => absent(accepted).length === 0,
        timeoutMs,
      ).catch(() => undefined);
      return absent(accepted);
    },
  };
}
