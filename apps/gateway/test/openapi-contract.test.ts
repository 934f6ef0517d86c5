import { Ajv2020 } from 'ajv/dist/2020.js';
import { defineConnector, z } from '@bifrost/core';
import { testRandom } from '@bifrost/connector-testkit';
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

interface Operation {
  parameters?: Array<{ name: string; required: boolean; schema: object }>;
  requestBody?: { required: boolean; content: Record<string, { schema: object }> };
}

/** The operation the OpenAPI document gives for a route. */
function operation(method: 'get' | 'post', path: string): Operation {
  const doc = buildOpenApi('test') as { paths: Record<string, Record<string, Operation>> };
  return doc.paths[path]![method]!;
}

/** The request body schema of a route, for one content type (its `$ref`s resolved in the document). */
function bodySchema(path: string, contentType = 'application/json'): object {
  const pointer = ['paths', path, 'post', 'requestBody', 'content', contentType, 'schema']
    .map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`)
    .join('');
  return { $ref: `openapi#${pointer}` };
}

function pointsBodySchema(): object {
  return bodySchema('/api/data');
}

describe('/openapi.json is exactly as strict as the server', () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  ajv.addSchema({ ...buildOpenApi('test'), $id: 'openapi' });
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
    ['a nested value', { deviceId: 'd', tagName: 't', value: { a: [1, null, { b: 'x' }], constructor: 1 } }],
    ['a __proto__ key deep in a value', { deviceId: 'd', tagName: 't', value: { a: [{ ['__proto__']: {} }] } }],
    ['a constructor.prototype in a value', { deviceId: 'd', tagName: 't', value: { constructor: { prototype: 1 } } }],
    ['a __proto__ tag', { deviceId: 'd', tagName: 't', value: 1, tags: { ['__proto__']: 'x' } }],
  ];

  it.each(bodies)('%s: valid by the schema exactly when the server accepts it', async (_, body) => {
    // A computed ['__proto__'] key is an own property, so JSON.stringify sends it as a client would.
    const res = await app.inject({
      method: 'POST',
      url: '/api/data',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    expect(res.statusCode === 200, res.body).toBe(validBody(body));
  });

  it('answers 405 with Allow to a method no route has (QUERY), 404 on an unknown path', async () => {
    const known = await app.inject({ method: 'QUERY' as 'GET', url: '/ready' });
    expect(known.statusCode).toBe(405);
    expect(known.headers.allow).toBe('GET');
    const param = await app.inject({ method: 'QUERY' as 'GET', url: '/api/cloud/connectors/a/test' });
    expect(param.statusCode).toBe(405);
    expect(param.headers.allow).toBe('POST');
    expect((await app.inject({ method: 'QUERY' as 'GET', url: '/nope' })).statusCode).toBe(404);
  });

  const validFilter = ajv.compile(bodySchema('/api/cloud/deadletters/replay'));
  const filters: Array<[string, unknown]> = [
    ['no filter', {}],
    ['a connector', { connector: 'a' }],
    ['seqs', { seqs: [0, 1, Number.MAX_SAFE_INTEGER] }],
    ['a seq beyond 2^53-1', { seqs: [1.97e30] }],
    ['a negative seq', { seqs: [-1] }],
    ['a fractional seq', { seqs: [1.5] }],
    ['a seq as a string', { seqs: ['1'] }],
    ['seqs as a string', { seqs: '1,2' }],
    ['an unknown field', { limit: 1 }],
    ['null', null],
    ['an array', []],
  ];
  it.each(filters)(
    'dead-letter filter with %s: valid by the schema exactly when the server accepts it',
    async (_, body) => {
      for (const path of ['/api/cloud/deadletters/replay', '/api/cloud/deadletters/purge']) {
        const res = await app.inject({
          method: 'POST',
          url: path,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
        expect(res.statusCode === 200, `${path}: ${res.body}`).toBe(validFilter(body));
      }
    },
  );

  it('dead-letter replay and purge without a body take every dead letter, as the optional body says', async () => {
    expect(operation('post', '/api/cloud/deadletters/purge').requestBody?.required).toBe(false);
    expect((await app.inject({ method: 'POST', url: '/api/cloud/deadletters/purge' })).statusCode).toBe(200);
  });

  const query = operation('post', '/query');
  const q = query.parameters!.find((p) => p.name === 'q')!;
  const validQ = ajv.compile(q.schema);
  const statements = [
    'CREATE DATABASE telegraf',
    'create database "my db" WITH DURATION 1d',
    '  \tCrEaTe\nDATABASE x',
    '\u00a0CREATE\u2028DATABASE\ufeffx',
    'CREATE DATABASE ',
    'CREATE DATABASE',
    'SHOW DATABASES',
    '',
    '\u001cCREATE DATABASE x',
  ];
  it.each(statements)(
    'POST /query?q=%j: valid by the schema exactly when the server answers 200',
    async (statement) => {
      expect(q.required).toBe(true);
      const res = await app.inject({ method: 'POST', url: `/query?q=${encodeURIComponent(statement)}` });
      expect(res.statusCode === 200, res.body).toBe(validQ(statement));
    },
  );

  it('POST /query takes q from a form body too, which the document describes', async () => {
    expect(Object.keys(query.requestBody!.content)).toEqual(['application/x-www-form-urlencoded']);
    const res = await app.inject({
      method: 'POST',
      url: '/query',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'q=CREATE+DATABASE+x',
    });
    expect(res.statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/query' })).statusCode).toBe(400);
  });

  const validLines = ajv.compile(bodySchema('/write', 'text/plain'));
  const lineBodies = [
    '',
    '\n\n',
    'm f=1',
    'm,host=a,b\\,c=d\\=e f=1i,g=-2i,h=3u,s="x",t=t,u=FALSE 1700000000000000000',
    'm f=1 1700000000000000000\r\n# comment\n \t\r\nn g=2',
    'm f="a\nb"',
    'm f="a\\"b" 1',
    'm f="x"123',
    'm\\ x f=1',
    'P',
    'm',
    'm f',
    'm f=',
    ' m f=1',
    'm f=1i2',
    'm f=1 \t',
    'm f=1 -1',
    'm f=9007199254740991i',
    'm f=9007199254740992i',
    'm f=-9007199254740992i',
    'm f=1 253402300799999999999',
    'm f=1 253402300800000000000',
    'm\u0001 f=1',
    'm \u0001=1',
    `${'m'.repeat(256)} f=1`,
    `${'m'.repeat(257)} f=1`,
    `m ${'k'.repeat(257)}=1`,
    `m f="${'x'.repeat(65_536)}"`,
    `m f="${'x'.repeat(65_537)}"`,
    'm f="never closed',
    'm f=1\nbad',
    '#m f="a\nb"',
    'm f=1.5e3,g=.5,h=5.,i=+1',
    'm f=1e',
  ];
  const write = (body: string) =>
    app.inject({ method: 'POST', url: '/write', headers: { 'content-type': 'text/plain' }, payload: body });
  it.each(lineBodies)('line protocol %j: valid by the pattern exactly when the server answers 204', async (body) => {
    const res = await write(body);
    expect(res.statusCode === 204, res.body).toBe(validLines(body));
  });

  it('line protocol: random bodies are valid by the pattern exactly when the server answers 204', async () => {
    const { random } = testRandom('line-protocol pattern');
    const pieces = [
      'm',
      'f',
      '=',
      ',',
      ' ',
      '\\',
      '"',
      '\n',
      '\r',
      '\t',
      '#',
      '1',
      '0',
      'i',
      'u',
      't',
      'e',
      '.',
      '-',
      '\u0001',
      'x=1',
    ];
    let accepted = 0;
    for (let n = 0; n < 3000; n++) {
      const prefix = random() < 0.7 ? 'm f=1' : '';
      let body = prefix;
      for (let len = Math.floor(random() * 12); len > 0; len--) body += pieces[Math.floor(random() * pieces.length)];
      const res = await write(body);
      if (res.statusCode === 204) accepted++;
      expect(res.statusCode === 204, `${JSON.stringify(body)}: ${res.body}`).toBe(validLines(body));
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
