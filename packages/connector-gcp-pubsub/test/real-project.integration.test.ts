import { describe, expect, it } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';
import { newPointId, type DataPoint, type PluginContext } from '@bifrost/core';
import { PubSub } from '@google-cloud/pubsub';
import { GcpPubSubConnector, gcpPubSubConfigSchema } from '../src/index.js';

/**
 * Opt-in: runs against real Google Cloud Pub/Sub when BIFROST_GCP_PROJECT and credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, with roles/pubsub.editor for the setup) are set.
 */
const project = process.env.BIFROST_GCP_PROJECT;
const credentials = process.env.GOOGLE_APPLICATION_CREDENTIALS;
const enabled = Boolean(project && credentials);
const reason =
  'set BIFROST_GCP_PROJECT and GOOGLE_APPLICATION_CREDENTIALS (a key with roles/pubsub.editor) to run against real Pub/Sub';
if (!enabled) process.stdout.write(`[gcp-pubsub] skipping the real-project test: ${reason}\n`);

const ctx = { logger: silentLogger, signal: new AbortController().signal } as PluginContext;
const never = () => ({ signal: new AbortController().signal });

describe.skipIf(!enabled)(`gcp-pubsub on real Pub/Sub${enabled ? '' : ` (skipped: ${reason})`}`, () => {
  it('publishes with credentials, reads every point back in order with its attributes, and names a missing topic', async () => {
    const admin = new PubSub({ projectId: project });
    const suffix = Math.random().toString(36).slice(2, 10);
    const [topic] = await admin.createTopic(`bifrost-test-${suffix}`);
    const [sub] = await topic.createSubscription(`bifrost-test-${suffix}`, { enableMessageOrdering: true });
    const c = new GcpPubSubConnector(
      gcpPubSubConfigSchema.parse({
        project_id: project,
        topic: `bifrost-test-${suffix}`,
        credentials_file: credentials,
        ordering: 'per-device',
      }),
      ctx,
    );
    try {
      await c.connect();
      const points: DataPoint[] = Array.from({ length: 200 }, (_, i) => ({
        id: newPointId(),
        deviceId: i % 2 ? 'A' : 'B',
        tagName: 'temperature',
        value: i,
        quality: 'GOOD',
        timestamp: Date.now(),
      }));
      await c.write(points.slice(0, 100), never());
      await c.write(points.slice(100), never());
      const got: Array<{ id: string; device: string; key: string }> = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read back ${got.length} of ${points.length}`)), 60_000);
        sub.on('message', (m) => {
          m.ack();
          if (!got.some((g) => g.id === m.attributes.id))
            got.push({ id: m.attributes.id ?? '', device: m.attributes.device_id ?? '', key: m.orderingKey ?? '' });
          if (got.length === points.length) {
            clearTimeout(timer);
            resolve();
          }
        });
        sub.on('error', reject);
      });
      for (const d of ['A', 'B']) {
        expect(got.filter((g) => g.device === d).map((g) => g.id)).toEqual(
          points.filter((p) => p.deviceId === d).map((p) => p.id),
        );
        expect(got.filter((g) => g.device === d).every((g) => g.key === d)).toBe(true);
      }
      const missing = new GcpPubSubConnector(
        gcpPubSubConfigSchema.parse({
          project_id: project,
          topic: `bifrost-missing-${suffix}`,
          credentials_file: credentials,
        }),
        ctx,
      );
      const refused = (await missing.connect().catch((e: unknown) => e)) as { kind?: string };
      expect(['config', 'auth']).toContain(refused.kind);
      await missing.close();
    } finally {
      await c.close();
      await sub.close().catch(() => {});
      await sub.delete().catch(() => {});
      await topic.delete().catch(() => {});
      await admin.close();
    }
  }, 120_000);
});
