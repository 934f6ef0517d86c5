import { Ajv2020 } from 'ajv/dist/2020.js';
import { defineConnector, z } from '@bifrost/core';
import { createMemoryQueue, createPipeline } from '@bifrost/core/host';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SecretRegistry } from '../src/config/secrets.js';
import { buildOpenApi } from '../src/http/openapi.js';
import { buildApi } from '../src/http/server.js';

const sink = defineConnector({
  type: 'sink',
  configSchema: z.object({}),
  create: () => ({ connect: async () => undefined, close: async () => undefined, write: async () => undefined }),
});

/** The request body schema the OpenAPI document gives for `POST /api/data`. */
function pointsBodySchema(): object {
  const doc = buildOpenApi('test') as {
    paths: Record<string, { post: { requestBody: { content: { 'application/json': { schema: object } } } } }>;
  };
  return doc.paths['/api/data']!.post.requestBody.content['application/json'].schema;
}

describe('/openapi.json is exactly as strict as the server', () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const validBody = ajv.compile(pointsBodySchema());
  const queue = createMemoryQueue();
  const pipeline = createPipeline({ queue, connectors: [{ name: 'a', definition: sink, config: {} }] });
  const app = buildApi({
    pipeline,
    queue,
    secrets: new SecretRegistry(),
    connectorConfigs: { a: {} },
    logger: pino({ level: 'silent' }),
    version: 'test',
    isAccepting: () => true,
  });

  const bodies: Array<[string, unknown]> = [
    ['a point', { deviceId: 'd', tagName: 't', value: 1 }],
    ['snake_case names', { device_id: 'd', tag_name: 't', value: 'x' }],
    ['a list', [{ deviceId: 'd', tagName: 't', value: true, timestamp: 1_700_000_000_000 }]],
    ['a points wrapper', { points: [{ deviceId: 'd', tagName: 't', value: { a: 1 } }] }],
    ['an empty id', { id: '', deviceId: 'd', tagName: 't', value: 1 }],
    ['an extra field', { deviceId: 'd', tagName: 't', value: 1, colour: 'blue' }],
    ['an extra field beside points', { points: [], extra: 1 }],
    ['a control character in a name', { deviceId: 'x\u0001y', tagName: 't', value: 1 }],
    ['a timestamp past year 9999', { deviceId: 'd', tagName: 't', value: 1, timestamp: 1e300 }],
    ['an empty device id', { deviceId: '', tagName: 't', value: 1 }],
    ['no value', { deviceId: 'd', tagName: 't' }],
    ['a priority of 10', { deviceId: 'd', tagName: 't', value: 1, priority: 10 }],
  ];

  it.each(bodies)('%s: valid by the schema exactly when the server accepts it', async (_, body) => {
    const res = await app.inject({ method: 'POST', url: '/api/data', payload: body as object });
    expect(res.statusCode === 200, res.body).toBe(validBody(body));
  });
});
