import type { Options } from 'amqplib';
import { wirePoint, type DataPoint } from '@bifrost/core';

/** Content type of every published message: the point as JSON. */
export const CONTENT_TYPE = 'application/json';

/**
 * The body and properties of one point's message: the point as JSON, `message_id` = point id (so
 * consumers can drop redeliveries), delivery mode 2 when persistent, and the device / tag / quality
 * as headers for `headers` exchanges.
 */
export function toMessage(
  point: DataPoint,
  persistent: boolean,
  mandatory: boolean,
): { content: Buffer; options: Options.Publish } {
  return {
    content: Buffer.from(JSON.stringify(wirePoint(point))),
    options: {
      messageId: point.id,
      contentType: CONTENT_TYPE,
      persistent,
      mandatory,
      timestamp: Math.floor(point.timestamp / 1000),
      appId: 'bifrost',
      headers: { device_id: point.deviceId, tag_name: point.tagName, quality: point.quality },
    },
  };
}
