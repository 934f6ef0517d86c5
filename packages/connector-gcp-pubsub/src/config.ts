import { pointTemplatePlaceholders, z } from '@bifrost/core';

/** How points become Pub/Sub messages. */
export const MESSAGE_MODES = ['point', 'batch'] as const;
export type MessageMode = (typeof MESSAGE_MODES)[number];

/** Attribute names the connector sets itself on every `point` message. */
export const BUILTIN_ATTRIBUTES = ['device_id', 'tag_name', 'quality', 'id'] as const;

const placeholders = pointTemplatePlaceholders().join(', ');

/**
 * The Pub/Sub connector's settings (`provider_config`, flattened, in snake_case). No secret sits in
 * the config itself: the service-account key is read from `credentials_file`, or Application
 * Default Credentials are used.
 */
export const gcpPubSubConfigSchema = z
  .strictObject({
    project_id: z.string().min(1).describe('Google Cloud project that owns the topic, e.g. `plant-telemetry-prod`.'),
    topic: z
      .string()
      .min(1)
      .describe(
        `Topic id (not the full \`projects/.../topics/...\` path) the messages are published to, e.g. \`bifrost-points\`. May hold point templates (${placeholders}) for a topic per device or tag, e.g. \`plant-a-{device_id}\`; a point whose rendered name is not a valid topic id is dead-lettered. Topics are not created by the connector.`,
      ),
    credentials_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Path of a service-account key file (JSON) with `roles/pubsub.publisher` on the topic. Unset: Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, the metadata server on Google Cloud, or `gcloud auth application-default login`).',
      ),
    api_endpoint: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Pub/Sub API endpoint as `host[:port]`: a regional endpoint such as `europe-west1-pubsub.googleapis.com:443` (keeps messages in that region on the way in), or the emulator (`127.0.0.1:8085`, with `emulator: true`). Unset: `PUBSUB_EMULATOR_HOST` when `emulator` is on, otherwise the global `pubsub.googleapis.com`.',
      ),
    emulator: z
      .boolean()
      .default(false)
      .describe(
        'Talk to the Pub/Sub emulator (or another fake) at `api_endpoint` or `PUBSUB_EMULATOR_HOST`: plaintext gRPC, no credentials. Never for a real project. With `PUBSUB_EMULATOR_HOST` set in the environment and no `api_endpoint`, the emulator is used even when this is false (as by every Google client).',
      ),
    messages: z
      .enum(MESSAGE_MODES)
      .default('point')
      .describe(
        '`point`: one message per point, its data the point as JSON (`{id, deviceId, tagName, value, quality, timestamp, unit?, tags?}`) with attributes `device_id`, `tag_name`, `quality`, `id`. `batch`: one message per batch (per topic, ordering key and set of `attributes` values), its data a JSON array of points, with attributes `count` and `device_id` (when all its points share one). Either way the library sends a host batch as one publish request (one per ordering key with `ordering: per-device`).',
      ),
    ordering: z
      .enum(['none', 'per-device'])
      .default('none')
      .describe(
        "`per-device`: the device id is the message ordering key and message ordering is enabled in the publisher, so a subscription with message ordering receives each device's points in order (Pub/Sub orders the messages of a key published in the same region). After a failed publish the key is resumed (`resumePublishing`) so the retry can go out. `none`: no ordering key.",
      ),
    attributes: z
      .record(z.string(), z.string())
      .default({})
      .describe(
        `Extra message attributes: name -> value, the value a point template (${placeholders}), e.g. \`{ line: '{tags.line}', site: plant-a }\`. At most ${100 - BUILTIN_ATTRIBUTES.length} (Pub/Sub allows 100 per message), names at most 256 bytes and not starting with \`goog\`; a point whose rendered value exceeds 1,024 bytes is dead-lettered. An attribute rendering empty is left out.`,
      ),
  })
  .superRefine((c, ctx) => {
    if (c.emulator && c.credentials_file !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['credentials_file'],
        message: 'the emulator takes no credentials: drop credentials_file or set emulator: false',
      });
  });

/** Validated settings as `create` receives them. */
export type GcpPubSubConfig = z.output<typeof gcpPubSubConfigSchema>;
