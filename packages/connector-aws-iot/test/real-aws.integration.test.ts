// Opt-in: runs against a real AWS IoT Core endpoint only when BIFROST_AWS_IOT_ENDPOINT and the
// device certificate paths are set (skipped otherwise, also in CI: no account there). Needs a thing
// whose certificate's policy allows connect as the thing, publish on bifrost-test/<thing>/#, and
// the thing's classic shadow (see the README's policy example).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { noCancel } from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import { eventually, makeConnector } from './support/connector.js';

const env = {
  endpoint: process.env.BIFROST_AWS_IOT_ENDPOINT,
  cert: process.env.BIFROST_AWS_IOT_CERT_FILE,
  key: process.env.BIFROST_AWS_IOT_KEY_FILE,
  ca: process.env.BIFROST_AWS_IOT_CA_FILE,
  thing: process.env.BIFROST_AWS_IOT_THING_NAME ?? 'bifrost-test',
  port: process.env.BIFROST_AWS_IOT_PORT,
};
const configured = env.endpoint !== undefined && env.cert !== undefined && env.key !== undefined;

describe.skipIf(!configured)('aws-iot against a real AWS IoT Core endpoint (BIFROST_AWS_IOT_ENDPOINT)', () => {
  const tls = () => ({
    cert: readFileSync(env.cert!, 'utf8'),
    key: readFileSync(env.key!, 'utf8'),
    ...(env.ca !== undefined && { ca: readFileSync(env.ca, 'utf8') }),
    rejectUnauthorized: true,
  });

  it('publishes QoS 1 (every PUBACK), a batch message and the shadow update is accepted', async () => {
    const c = makeConnector(
      {
        endpoint: env.endpoint,
        ...(env.port !== undefined && { port: Number(env.port) }),
        thing_name: env.thing,
        topic_prefix: 'bifrost-test',
        shadow_update: true,
        shadow_interval: '1s',
      },
      tls(),
    );
    try {
      await c.connect();
      const points: DataPoint[] = Array.from({ length: 20 }, (_, i) => ({
        id: newPointId(),
        deviceId: 'real-aws',
        tagName: `tag${i % 4}`,
        value: i,
        quality: 'GOOD',
        timestamp: Date.now(),
      }));
      const receipt = await c.write(points, noCancel());
      expect(receipt.bytes).toBeGreaterThan(0);
      await eventually(
        () => (c.shadowStatus()?.accepted ?? 0) > 0,
        15_000,
        () => JSON.stringify(c.shadowStatus()),
      );
    } finally {
      await c.close();
    }
  });

  it('a topic the policy does not allow ends the connection as not authorized', async () => {
    const c = makeConnector({ endpoint: env.endpoint, thing_name: env.thing, topic: 'not-allowed/{device_id}' }, tls());
    try {
      await c.connect();
      const err = await c
        .write(
          [{ id: newPointId(), deviceId: 'x', tagName: 't', value: 1, quality: 'GOOD', timestamp: Date.now() }],
          noCancel(),
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      // MQTT 5: AWS IoT answers an unauthorized PUBLISH with PUBACK 0x87 (MQTT 3 would disconnect).
      expect(err).toMatchObject({ kind: 'auth' });
    } finally {
      await c.close();
    }
  });
});
