import { createHash } from 'node:crypto';
import { pointJson, pointsJson, type DataPoint, type PointTemplate, type RejectedPoint } from '@bifrost/core';
import type { MessageMode } from './config.js';

/**
 * IoT Hub's limit for one device-to-cloud message, body and properties together
 * (https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-quotas-throttling#other-limits).
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** Room kept for the topic and property bag when the host cuts a batch into one message's body. */
export const PROPERTY_RESERVE_BYTES = 8 * 1024;

/** Bytes of points per host batch: one `batch` message's body stays under {@link MAX_MESSAGE_BYTES}. */
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES - PROPERTY_RESERVE_BYTES;

/** A device-to-cloud message before it becomes the SDK's `Message`. */
export interface PlannedMessage {
  body: string;
  messageId: string;
  /** Application properties, in order. */
  properties: Array<[string, string]>;
  /** Ids of the points it carries. */
  ids: string[];
  /** Body plus the MQTT topic with its property bag, as IoT Hub's 256 KB limit counts them. */
  bytes: number;
}

/** What a write sends, and the points refused before the wire. */
export interface PlannedWrite {
  messages: PlannedMessage[];
  poison: RejectedPoint[];
}

/** How messages are made: the mode, the telemetry topic (for sizes) and the configured extra properties. */
export interface MessageFormat {
  mode: MessageMode;
  /** `devices/<id>/messages/events/` (or the module form), for the size of a message. */
  topic: string;
  extras: ReadonlyArray<[string, PointTemplate]>;
}

/** `contentType` and `contentEncoding` of every message, so IoT Hub routing queries can read the body. */
export const CONTENT_TYPE = 'application/json';
export const CONTENT_ENCODING = 'utf-8';

/** Bytes of the property bag the device SDK appends to the topic (URL-encoded `k=v&...`, system properties first). */
function bagBytes(messageId: string, properties: ReadonlyArray<[string, string]>): number {
  let n = `$.mid=${encodeURIComponent(messageId)}&$.ct=${encodeURIComponent(CONTENT_TYPE)}&$.ce=${CONTENT_ENCODING}`
    .length;
  for (const [k, v] of properties) n += 2 + encodeURIComponent(k).length + encodeURIComponent(v).length;
  return n;
}

function sized(topic: string, m: Omit<PlannedMessage, 'bytes'>): PlannedMessage {
  return { ...m, bytes: Buffer.byteLength(m.body) + Buffer.byteLength(topic) + bagBytes(m.messageId, m.properties) };
}

function creationTime(timestamp: number): string {
  return new Date(timestamp).toISOString();
}

function oversize(m: PlannedMessage): string {
  return `message of ${m.bytes} bytes (body and properties) exceeds IoT Hub's limit of ${MAX_MESSAGE_BYTES} bytes`;
}

/** The extra properties of a point, rendered; empty values left out. */
function extrasOf(p: DataPoint, extras: MessageFormat['extras']): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, template] of extras) {
    const value = template(p);
    if (value !== '') out.push([name, value]);
  }
  return out;
}

/** A stable id for a batch message: the SHA-256 of its point ids, the same on every redelivery of the same points. */
export function batchMessageId(ids: readonly string[]): string {
  return createHash('sha256').update(ids.join('\n')).digest('hex');
}

/**
 * Turns a batch into IoT Hub messages: one per point (`point`), or one JSON array per set of
 * rendered extra properties (`batch`). A message over IoT Hub's 256 KB limit is poison: its
 * points are refused with the reason, the rest goes out.
 */
export function planMessages(batch: readonly DataPoint[], fmt: MessageFormat): PlannedWrite {
  const messages: PlannedMessage[] = [];
  const poison: RejectedPoint[] = [];
  const add = (m: PlannedMessage) => {
    if (m.bytes > MAX_MESSAGE_BYTES) for (const id of m.ids) poison.push({ id, reason: oversize(m), kind: 'payload' });
    else messages.push(m);
  };
  if (fmt.mode === 'point') {
    for (const p of batch)
      add(
        sized(fmt.topic, {
          body: pointJson(p),
          messageId: p.id,
          properties: [
            ['device_id', p.deviceId],
            ['tag_name', p.tagName],
            ['quality', p.quality],
            ...extrasOf(p, fmt.extras),
            ['iothub-creation-time-utc', creationTime(p.timestamp)],
          ],
          ids: [p.id],
        }),
      );
    return { messages, poison };
  }
  const groups = new Map<string, { extras: Array<[string, string]>; points: DataPoint[] }>();
  for (const p of batch) {
    const extras = extrasOf(p, fmt.extras);
    const key = JSON.stringify(extras);
    const g = groups.get(key);
    if (g) g.points.push(p);
    else groups.set(key, { extras, points: [p] });
  }
  for (const { extras, points } of groups.values()) {
    const [first] = points;
    if (!first) continue;
    const shared = (read: (p: DataPoint) => string): string | undefined => {
      const v = read(first);
      return points.every((p) => read(p) === v) ? v : undefined;
    };
    const builtins: Array<[string, string]> = [];
    for (const [name, read] of [
      ['device_id', (p: DataPoint) => p.deviceId],
      ['tag_name', (p: DataPoint) => p.tagName],
      ['quality', (p: DataPoint) => p.quality],
    ] as const) {
      const v = shared(read);
      if (v !== undefined) builtins.push([name, v]);
    }
    const ids = points.map((p) => p.id);
    add(
      sized(fmt.topic, {
        body: pointsJson(points),
        messageId: batchMessageId(ids),
        properties: [
          ...builtins,
          ['count', String(points.length)],
          ...extras,
          ['iothub-creation-time-utc', creationTime(Math.min(...points.map((p) => p.timestamp)))],
        ],
        ids,
      }),
    );
  }
  return { messages, poison };
}
