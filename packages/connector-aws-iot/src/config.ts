import { durationSchema, pointTemplatePlaceholders, z } from '@bifrost/core';
import { AWS_IOT_LIMITS, SHADOW_LIMITS } from './limits.js';

/** How points become MQTT messages. */
export const MESSAGE_MODES = ['point', 'batch'] as const;
export type MessageMode = (typeof MESSAGE_MODES)[number];

/** Topic template used when `topic` is not set. */
export const DEFAULT_TOPIC = '{topic_prefix}/{thing_name}/{device_id}/{tag_name}';

/** Placeholders a topic template may use besides the point's own (`{device_id}`, ...). */
export const TOPIC_CONFIG_FIELDS = ['topic_prefix', 'thing_name'] as const;

/** AWS IoT thing and shadow names: letters, digits, `:`, `_`, `-`. */
const AWS_NAME = /^[a-zA-Z0-9:_-]+$/;
/** AWS IoT rule names: letters, digits and `_`. */
const RULE_NAME = /^[a-zA-Z0-9_]{1,128}$/;
/** An AWS IoT data endpoint names its region: `<id>-ats.iot.<region>.amazonaws.com`. */
const AWS_ENDPOINT_REGION = /\.iot\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

const placeholders = pointTemplatePlaceholders([...TOPIC_CONFIG_FIELDS]).join(', ');

/**
 * The AWS IoT connector's settings: the connector-level `endpoint` plus `provider_config`,
 * flattened, in snake_case as written in YAML. The device certificate, its key and the CA come from
 * the connector's TLS files (`tls_enabled`, `cert_file`, `key_file`, `ca_file`), never from here.
 */
export const awsIotConfigSchema = z
  .strictObject({
    endpoint: z
      .string({
        error: 'endpoint is required: your AWS IoT data endpoint, e.g. abc123-ats.iot.us-east-1.amazonaws.com',
      })
      .min(1, 'endpoint must not be empty')
      .regex(
        /^[a-zA-Z0-9.-]+$/,
        'endpoint must be a host name without scheme or port, e.g. abc123-ats.iot.us-east-1.amazonaws.com',
      )
      .describe(
        'AWS IoT data endpoint (host name only), e.g. `abc123-ats.iot.us-east-1.amazonaws.com`: `aws iot describe-endpoint --endpoint-type iot:Data-ATS`, or Settings in the AWS IoT console.',
      ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(8883)
      .describe(
        'AWS IoT listens on `8883` (MQTT over TLS) and `443` (MQTT over TLS with the ALPN protocol `x-amzn-mqtt-ca`, which the client always offers, for networks that only let HTTPS out).',
      ),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'region must be an AWS region such as us-east-1')
      .optional()
      .describe(
        "AWS region of the endpoint, e.g. `us-east-1`. Optional; when set, it must match the region in an AWS endpoint's host name (catches a config pointing at the wrong account's endpoint).",
      ),
    thing_name: z
      .string({ error: 'thing_name is required: the AWS IoT thing this gateway is registered as' })
      .min(1)
      .max(128)
      .regex(AWS_NAME, 'thing_name may hold only letters, digits, :, _ and -')
      .describe(
        'Name of the AWS IoT thing this gateway is (its certificate is attached to it); `{thing_name}` in topics and the Device Shadow it reports to.',
      ),
    client_id: z
      .string()
      .min(1)
      .refine((s) => Buffer.byteLength(s) <= AWS_IOT_LIMITS.clientIdBytes, {
        message: `client_id must be at most ${AWS_IOT_LIMITS.clientIdBytes} bytes (AWS IoT's limit)`,
      })
      .optional()
      .describe(
        'MQTT client id. Default: `thing_name` (what the usual IoT policy condition `iot:Connection.Thing.ThingName` expects). AWS IoT drops the older of two connections with the same id, so give each gateway its own.',
      ),
    topic_prefix: z.string().default('bifrost').describe('Value of `{topic_prefix}` in the topic template.'),
    topic: z
      .string()
      .min(1)
      .default(DEFAULT_TOPIC)
      .describe(
        `Topic template; placeholders ${placeholders}. At most ${AWS_IOT_LIMITS.topicBytes} bytes and ${AWS_IOT_LIMITS.topicSlashes} slashes once rendered (AWS IoT's limits; checked at startup for the template, per point for what device and tag names add: a point over them is dead-lettered).`,
      ),
    messages: z
      .enum(MESSAGE_MODES)
      .default('point')
      .describe(
        `\`point\`: one message per point, the point as JSON (\`{id, deviceId, tagName, value, quality, timestamp, unit?, tags?}\`). \`batch\`: one message per topic and batch, a JSON array of points, at most ${AWS_IOT_LIMITS.payloadBytes / 1024} KB (the host cuts batches by bytes): use it with a topic without \`{tag_name}\` to drain a backlog under the ${AWS_IOT_LIMITS.publishesPerSecond} publishes per second AWS allows a connection.`,
      ),
    basic_ingest_rule: z
      .string()
      .regex(RULE_NAME, 'basic_ingest_rule must be an AWS IoT rule name (letters, digits and _)')
      .optional()
      .describe(
        'Publish through AWS IoT Basic Ingest straight to this rule: topics become `$aws/rules/<rule>/<topic>` (no messaging charge; subscribers never see the messages, only the rule does). The prefix does not count against the topic limits.',
      ),
    qos: z
      .union([z.literal(0), z.literal(1)], {
        error: 'qos must be 0 or 1: AWS IoT Core does not support QoS 2',
      })
      .default(1)
      .describe(
        '`1` (default): a write succeeds only after every PUBACK. `0`: fire and forget, a point counts as sent once handed to the socket (at-most-once; may lose data). AWS IoT has no QoS 2.',
      ),
    max_publish_rate: z
      .number()
      .positive()
      .default(AWS_IOT_LIMITS.publishesPerSecond)
      .describe(
        `Most PUBLISH packets per second on the connection (AWS IoT allows ${AWS_IOT_LIMITS.publishesPerSecond} per connection and throttles beyond). Shadow updates count too.`,
      ),
    max_throughput_kib: z
      .number()
      .positive()
      .default(AWS_IOT_LIMITS.bytesPerSecond / 1024)
      .describe(
        `Most payload KiB per second on the connection (AWS IoT allows ${AWS_IOT_LIMITS.bytesPerSecond / 1024} KB/s per connection).`,
      ),
    keepalive_s: z
      .number()
      .int()
      .min(AWS_IOT_LIMITS.keepAliveMinS)
      .max(AWS_IOT_LIMITS.keepAliveMaxS)
      .default(60)
      .describe(
        `MQTT keep-alive, seconds (AWS IoT accepts ${AWS_IOT_LIMITS.keepAliveMinS}-${AWS_IOT_LIMITS.keepAliveMaxS}); detects a dead link.`,
      ),
    session_expiry_s: z
      .number()
      .int()
      .min(1)
      .max(AWS_IOT_LIMITS.sessionExpiryMaxS)
      .default(AWS_IOT_LIMITS.sessionExpiryDefaultS)
      .describe(
        'How long the broker keeps the session (clean start off) after a disconnect, seconds, so QoS 1 publishes in flight at a reconnect are completed on the resumed session. AWS IoT caps it at its persistent-session expiry (1 hour by default).',
      ),
    shadow_update: z
      .boolean()
      .default(false)
      .describe(
        "Report the latest value of every device's tags to the thing's Device Shadow (`state.reported.<device_id>.<tag_name>`), every `shadow_interval`, beside the telemetry.",
      ),
    shadow_interval: durationSchema
      .prefault('10s')
      .describe('How often the coalesced latest values are sent to the shadow, e.g. `10s`.'),
    shadow_name: z
      .string()
      .min(1)
      .max(SHADOW_LIMITS.nameBytes)
      .regex(AWS_NAME, 'shadow_name may hold only letters, digits, :, _ and -')
      .optional()
      .describe("Named shadow to update instead of the thing's classic (unnamed) shadow."),
    shadow_per_device: z
      .boolean()
      .default(false)
      .describe(
        `One named shadow per device (named by the device id, or \`<shadow_name>-<device_id>\`) instead of one document for all, for gateways whose reported state exceeds AWS's ${SHADOW_LIMITS.stateBytes / 1024} KB per document.`,
      ),
  })
  .superRefine((c, ctx) => {
    const region = AWS_ENDPOINT_REGION.exec(c.endpoint)?.[1];
    if (c.region !== undefined && region !== undefined && region !== c.region)
      ctx.addIssue({
        code: 'custom',
        path: ['region'],
        message: `region ${c.region} does not match the endpoint's region ${region}`,
      });
    const problem = templateProblem(c.topic, { topic_prefix: c.topic_prefix, thing_name: c.thing_name });
    if (problem) ctx.addIssue({ code: 'custom', path: ['topic'], message: problem });
  });

/** Validated settings as `create` receives them. */
export type AwsIotConfig = z.output<typeof awsIotConfigSchema>;

/**
 * What the fixed part of a topic template already breaks of AWS IoT's topic limits (the config
 * fields filled in, point fields empty), so a template that can never work fails at startup.
 */
export function templateProblem(template: string, fields: Record<string, string>): string | undefined {
  const fixed = template.replace(/\{([^{}]*)\}/g, (_, name: string) => fields[name] ?? '');
  const slashes = fixed.split('/').length - 1;
  if (slashes > AWS_IOT_LIMITS.topicSlashes)
    return `topic template has ${slashes} slashes once filled in, over AWS IoT's limit of ${AWS_IOT_LIMITS.topicSlashes}`;
  const bytes = Buffer.byteLength(fixed);
  if (bytes > AWS_IOT_LIMITS.topicBytes)
    return `topic template is ${bytes} bytes before any device or tag name, over AWS IoT's limit of ${AWS_IOT_LIMITS.topicBytes}`;
  if (fixed.startsWith('$'))
    return 'topic must not start with $ (AWS IoT reserves it; use basic_ingest_rule for $aws/rules)';
  return undefined;
}
