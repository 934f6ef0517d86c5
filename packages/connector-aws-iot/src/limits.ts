/**
 * AWS IoT Core's published limits for MQTT clients ("AWS IoT Core message broker and protocol
 * limits and quotas", https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits),
 * enforced before anything goes on the wire.
 */
export const AWS_IOT_LIMITS = {
  /** "Maximum MQTT message size: 128 KB" (the PUBLISH payload; the broker rejects larger messages). */
  payloadBytes: 128 * 1024,
  /** "Topic size: 256 bytes" (UTF-8). */
  topicBytes: 256,
  /** "Maximum number of slashes in topic and topic filter: 7" (a Basic Ingest prefix excluded). */
  topicSlashes: 7,
  /** "Publish requests per connection: 100 per second" (not adjustable). */
  publishesPerSecond: 100,
  /** "Maximum in-flight unacknowledged messages: 100" (AWS's Receive Maximum). */
  inflight: 100,
  /** "Throughput per connection: 512 KB per second" (not adjustable). */
  bytesPerSecond: 512 * 1024,
  /** "Client ID size: 128 bytes". */
  clientIdBytes: 128,
  /** "Keep-alive period: 30-1200 seconds". */
  keepAliveMinS: 30,
  keepAliveMaxS: 1200,
  /** "Persistent session expiry period: 1 hour" by default (adjustable to 7 days). */
  sessionExpiryDefaultS: 3600,
  sessionExpiryMaxS: 7 * 86_400,
} as const;

/**
 * AWS IoT Device Shadow limits ("AWS IoT Device Shadow service limits and quotas",
 * https://docs.aws.amazon.com/general/latest/gr/iot-core.html#device-shadow-limits).
 */
export const SHADOW_LIMITS = {
  /** "Maximum size of a JSON state document: 8 KB" (the `state` object, whitespace excluded). */
  stateBytes: 8 * 1024,
  /** "Shadow name: 64 bytes", of `[a-zA-Z0-9:_-]`. */
  nameBytes: 64,
} as const;

/** The prefix of AWS IoT Basic Ingest topics for `rule` (not counted in the topic limits). */
export function basicIngestPrefix(rule: string): string {
  return `$aws/rules/${rule}/`;
}

/**
 * Why `topic` breaks AWS IoT's topic rules (size, slashes, wildcards, the reserved `$` prefix),
 * or undefined. `topic` excludes any Basic Ingest prefix.
 */
export function topicProblem(topic: string): string | undefined {
  const shown = topic.length > 120 ? `${topic.slice(0, 120)}...` : topic;
  if (topic === '') return 'topic is empty';
  if (/[+#]/.test(topic) || topic.includes('\u0000'))
    return `topic "${shown}" contains a wildcard (+, #) or NUL, which MQTT forbids`;
  if (topic.startsWith('$')) return `topic "${shown}" starts with $, which AWS IoT reserves`;
  const bytes = Buffer.byteLength(topic);
  if (bytes > AWS_IOT_LIMITS.topicBytes)
    return `topic "${shown}" is ${bytes} bytes, over AWS IoT's limit of ${AWS_IOT_LIMITS.topicBytes} bytes`;
  const slashes = topic.split('/').length - 1;
  if (slashes > AWS_IOT_LIMITS.topicSlashes)
    return `topic "${shown}" has ${slashes} slashes, over AWS IoT's limit of ${AWS_IOT_LIMITS.topicSlashes}`;
  return undefined;
}
