import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';
import { newPointId } from '@bifrost/core';
import plugin from '../src/index.js';
import { FakePubSub, PROJECT } from './fake.js';

let f: FakePubSub;
beforeAll(async () => {
  f = await FakePubSub.start();
  await f.createTopic('smoke');
});
afterAll(async () => f?.dispose());

it('publishes and reads back', async () => {
  const r = await f.reader('smoke');
  const c = plugin.create(plugin.configSchema.parse({ project_id: PROJECT, topic: 'smoke', emulator: true, api_endpoint: f.proxied }), {
    logger: silentLogger,
    signal: new AbortController().signal,
  } as never);
  await c.connect();
  const points = Array.from({ length: 10 }, (_, i) => ({ id: newPointId(), deviceId: 'd1', tagName: 't', value: i, quality: 'GOOD', timestamp: Date.now() }));
  await c.write(points, { signal: new AbortController().signal });
  await r.until(() => r.messages.length >= 10, 5000);
  expect(r.messages.length).toBe(10);
  console.log(r.messages[0]);
  await c.close();
});
