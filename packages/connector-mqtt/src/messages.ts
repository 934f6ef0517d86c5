import { pointJson, pointsJson, type DataPoint, type RejectedPoint } from '@bifrost/core';
import type { IClientPublishOptions } from 'mqtt';
import type { OutgoingMessage } from './publish-window.js';
import type { TopicResolver } from './topic.js';

/** MQTT 5 user property that carries the point id, so subscribers can drop redeliveries. */
export const ID_PROPERTY = 'bifrost-id';

/** How a batch becomes PUBLISH packets. */
export interface MessageFormat {
  format: 'json' | 'json-batch';
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT 5: add the {@link ID_PROPERTY} user property to each single-point message. */
  idProperty: boolean;
  /** Largest PUBLISH packet the broker takes, bytes; larger messages are poison. */
  maxPacketSize?: number;
}

/** The messages to send for a batch, and the points that can never be published. */
export interface BatchMessages {
  messages: OutgoingMessage[];
  poison: RejectedPoint[];
}

/** Fixed header (1) + remaining length (<= 4) + topic length (2) + packet id (2) + properties length (<= 4). */
const PUBLISH_OVERHEAD = 13;
const ID_PROPERTY_OVERHEAD = 1 + 2 + ID_PROPERTY.length + 2;

/**
 * Turns a batch into PUBLISH messages: one JSON object per point (`json`) or one JSON array per
 * topic (`json-batch`). Each payload is serialised once. Points whose topic is invalid or whose
 * packet would exceed the broker's maximum packet size are returned as poison, not sent.
 */
export function buildMessages(batch: readonly DataPoint[], topics: TopicResolver, fmt: MessageFormat): BatchMessages {
  const poison: RejectedPoint[] = [];
  const messages: OutgoingMessage[] = [];
  const shared: IClientPublishOptions = { qos: fmt.qos, retain: fmt.retain };

  if (fmt.format === 'json') {
    for (const point of batch) {
      const t = topics.resolve(point);
      if ('invalid' in t) {
        poison.push({ id: point.id, reason: t.invalid, kind: 'payload' });
        continue;
      }
      const payload = pointJson(point);
      if (tooLarge(fmt, t.topic, payload, fmt.idProperty ? ID_PROPERTY_OVERHEAD + point.id.length : 0)) {
        poison.push({ id: point.id, reason: oversize(fmt, payload), kind: 'payload' });
        continue;
      }
      const options = fmt.idProperty
        ? { ...shared, properties: { userProperties: { [ID_PROPERTY]: point.id } } }
        : shared;
      messages.push({ topic: t.topic, payload, options, ids: [point.id] });
    }
    return { messages, poison };
  }

  const byTopic = new Map<string, DataPoint[]>();
  for (const point of batch) {
    const t = topics.resolve(point);
    if ('invalid' in t) {
      poison.push({ id: point.id, reason: t.invalid, kind: 'payload' });
      continue;
    }
    const group = byTopic.get(t.topic);
    if (group) group.push(point);
    else byTopic.set(t.topic, [point]);
  }
  for (const [topic, points] of byTopic) {
    const payload = pointsJson(points);
    if (tooLarge(fmt, topic, payload, 0)) {
      for (const msg of splitOversizedGroup(topic, points, fmt, shared)) {
        if ('reason' in msg) poison.push(msg);
        else messages.push(msg);
      }
      continue;
    }
    messages.push({ topic, payload, options: shared, ids: points.map((p) => p.id) });
  }
  return { messages, poison };
}

/**
 * A `json-batch` group too large for one packet: halves it until each part fits; single points that
 * still do not fit are poison. This is not a re-split of the host's batch by bytes (the host cuts
 * those): one host batch can hold several topics' groups, and the limit is the broker's Maximum
 * Packet Size, known only from CONNACK (after the host fixed its batch limits), on the packet with
 * its topic and framing, which `pointBytes` does not see.
 */
function splitOversizedGroup(
  topic: string,
  points: DataPoint[],
  fmt: MessageFormat,
  options: IClientPublishOptions,
): Array<OutgoingMessage | RejectedPoint> {
  const payload = pointsJson(points);
  if (!tooLarge(fmt, topic, payload, 0)) return [{ topic, payload, options, ids: points.map((p) => p.id) }];
  if (points.length === 1) return points.map((p) => ({ id: p.id, reason: oversize(fmt, payload), kind: 'payload' }));
  const half = Math.ceil(points.length / 2);
  return [
    ...splitOversizedGroup(topic, points.slice(0, half), fmt, options),
    ...splitOversizedGroup(topic, points.slice(half), fmt, options),
  ];
}

function tooLarge(fmt: MessageFormat, topic: string, payload: string, extra: number): boolean {
  if (fmt.maxPacketSize === undefined) return false;
  // Cheap first test: a UTF-16 string never encodes to more than 3 bytes per code unit.
  const upper = PUBLISH_OVERHEAD + extra + 3 * (topic.length + payload.length);
  if (upper <= fmt.maxPacketSize) return false;
  return PUBLISH_OVERHEAD + extra + Buffer.byteLength(topic) + Buffer.byteLength(payload) > fmt.maxPacketSize;
}

function oversize(fmt: MessageFormat, payload: string): string {
  return `message of ${Buffer.byteLength(payload)} bytes exceeds the broker's maximum packet size of ${fmt.maxPacketSize} bytes`;
}
