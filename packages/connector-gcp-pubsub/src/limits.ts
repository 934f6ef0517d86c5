import { pointJsonByteLength, type DataPoint } from '@bifrost/core';

/**
 * Pub/Sub's published resource limits (https://cloud.google.com/pubsub/quotas#resource_limits),
 * enforced before anything goes on the wire, so a point over one is dead-lettered with the limit
 * named instead of failing its whole publish request with INVALID_ARGUMENT.
 */
export const PUBSUB_LIMITS = {
  /** "Publish request: 10 MB (total size)"; the service counts 10 MB as 10,485,760 bytes. */
  requestBytes: 10 * 1024 * 1024,
  /** "Message size (the data field): 10 MB"; we hold a whole message (data, attributes, ordering key) to it. */
  messageBytes: 10 * 1024 * 1024,
  /** "Publish request: 1,000 messages". */
  messagesPerRequest: 1000,
  /** "Attributes per message: 100". */
  attributesPerMessage: 100,
  /** "Attribute key size: 256 bytes". */
  attributeKeyBytes: 256,
  /** "Attribute value size: 1,024 bytes". */
  attributeValueBytes: 1024,
  /** "Ordering key size: 1 KB". */
  orderingKeyBytes: 1024,
} as const;

/**
 * Bytes per publish request the host cuts batches to: the Node client's own cap on one batch
 * (`BATCH_LIMITS.maxBytes`, 9 MiB), under Pub/Sub's 10 MB per request with room for the request's
 * framing, so one host batch goes out as one request.
 */
export const MAX_BATCH_BYTES = 9 * 1024 * 1024;

/** A Pub/Sub topic id: 3-255 characters, a letter first, then letters, digits and `-_.~+%`; not `goog...`. */
const TOPIC_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

/** Why `name` is not a valid topic id, or undefined when it is. */
export function topicIdProblem(name: string): string | undefined {
  if (!TOPIC_ID.test(name))
    return `"${name.length > 80 ? `${name.slice(0, 80)}...` : name}" is not a valid Pub/Sub topic id (3-255 characters, a letter first, then letters, digits, - _ . ~ + %)`;
  if (/^goog/i.test(name)) return `"${name}" is not a valid Pub/Sub topic id (ids starting with "goog" are reserved)`;
  return undefined;
}

/**
 * Bytes of a point as the Node client counts them in a batch (`calculateMessageSize`: data plus
 * attribute keys and values) with the built-in attributes; with `messages: batch` the host cuts
 * batches to {@link MAX_BATCH_BYTES} by it. Extra `attributes` are not counted here: when they push
 * a batch over the client's 9 MiB, the client sends it as two requests (still acknowledged
 * message by message).
 */
export function wirePointBytes(p: DataPoint): number {
  return (
    pointJsonByteLength(p) +
    Buffer.byteLength(p.deviceId) +
    Buffer.byteLength(p.tagName) +
    Buffer.byteLength(p.quality) +
    Buffer.byteLength(p.id) +
    // 'device_id' + 'tag_name' + 'quality' + 'id'
    26
  );
}

/** Size of a message as Pub/Sub's limits count it: data, attribute keys and values, ordering key. */
export function messageBytes(data: Buffer, attributes: Record<string, string>, orderingKey?: string): number {
  let n = data.length;
  for (const k in attributes) n += Buffer.byteLength(k) + Buffer.byteLength(attributes[k]!);
  if (orderingKey) n += Buffer.byteLength(orderingKey);
  return n;
}

/** Whether `s` may exceed `limit` UTF-8 bytes (a UTF-16 code unit never takes more than 3). */
function mayExceed(s: string, limit: number): boolean {
  return s.length * 3 > limit && Buffer.byteLength(s) > limit;
}

/** The limit an attribute set breaks, or undefined. Called per point: no allocation when none is broken. */
export function attributeProblem(attributes: Record<string, string>): string | undefined {
  let count = 0;
  for (const k in attributes) {
    count++;
    if (mayExceed(k, PUBSUB_LIMITS.attributeKeyBytes))
      return `attribute key "${k.slice(0, 40)}..." is ${Buffer.byteLength(k)} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.attributeKeyBytes} bytes`;
    const value = attributes[k]!;
    if (mayExceed(value, PUBSUB_LIMITS.attributeValueBytes))
      return `attribute ${k} is ${Buffer.byteLength(value)} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.attributeValueBytes} bytes per attribute value`;
  }
  if (count > PUBSUB_LIMITS.attributesPerMessage)
    return `${count} attributes, over Pub/Sub's limit of ${PUBSUB_LIMITS.attributesPerMessage} per message`;
  return undefined;
}
