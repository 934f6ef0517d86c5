import mqtt, { type MqttClient } from 'mqtt';

/**
 * An independent MQTT subscriber with a persistent session that counts how often each point id
 * arrives, so end-to-end tests can check "every accepted id arrived" and report duplicates.
 */
export interface IdSubscriber {
  client: MqttClient;
  /** Point id -> times received. */
  received: Map<string, number>;
  duplicates(): number;
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
  return { client, received, duplicates: () => [...received.values()].reduce((a, n) => a + (n - 1), 0) };
}
