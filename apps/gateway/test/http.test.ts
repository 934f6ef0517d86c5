import { AuthError, defineConnector, PayloadError, z, type DataPoint, secret } from '@bifrost/core';
import { createMemoryQueue, createPipeline, createRouter, type DurableQueue, type Pipeline } from '@bifrost/core/host';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SecretRegistry } from '../src/config/secrets.js';
import { buildApi } from '../src/http/server.js';
import { ROUTES } from '../src/http/openapi.js';
import { withOperationHealth } from '../src/queue-health.js';

/** The parts of the API's JSON answers these tests read. */
interface ErrorAnswer {
  error: string;
  issues: Array<{ path: string }>;
}
interface DeadLetterAnswer {
  deadLetters: Array<{ seq: number }>;
}
interface HistoryAnswer {
  intervalMs: number;
  windowMs: number;
  samples: Array<{ connectors: Array<{ name: string; sentPerSecond?: number }> }>;
}
interface ConnectorMetrics {
  name: string;
  successRate: number;
}

/**
 * A connector that records what it got and the bytes it reports; `poison` device ids are refused as
 * PayloadError, and the first `authFailures` writes fail with an AuthError (which opens the breaker).
 */
function recordingConnector(received: DataPoint[], written: { bytes: number }, authFailures = 0) {
  let failures = authFailures;
  return defineConnector({
    type: 'recorder',
    configSchema: z.object({ password: secret(z.string()).optional().describe('pretend password') }),
    create: () => ({
      async connect() {},
      async write(batch) {
        if (failures > 0) {
          failures--;
          throw new AuthError('not authorized');
        }
        const bad = batch.filter((p) => p.deviceId === 'poison').map((p) => p.id);
        if (bad.length) return Promise.reject(new PayloadError('refused', bad));
        received.push(...batch);
        const bytes = Buffer.byteLength(JSON.stringify(batch));
        written.bytes += bytes;
        return Promise.resolve({ bytes });
      },
      async close() {},
    }),
  });
}

interface Harness {
  app: ReturnType<typeof buildApi>;
  pipeline: Pipeline;
  queue: DurableQueue;
  received: DataPoint[];
  /** Payload bytes the connectors reported as acknowledged. */
  written: { bytes: number };
}

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.app.close();
    await h.pipeline.stop({ deadlineMs: 1000 });
    await h.queue.close();
  }
});

function harness(
  opts: {
    token?: string;
    maxPoints?: number;
    start?: boolean;
    bodyLimit?: number;
    wrapQueue?: (q: DurableQueue) => DurableQueue;
    history?: { intervalMs: number; windowMs: number };
    authFailures?: number;
  } = {},
): Harness {
  const received: DataPoint[] = [];
  const queue = (opts.wrapQueue ?? ((q) => q))(createMemoryQueue());
  const written = { bytes: 0 };
  const definition = recordingConnector(received, written, opts.authFailures);
  const secrets = new SecretRegistry();
  secrets.add('hunter2-password');
  const pipeline = createPipeline({
    queue,
    router: createRouter({
      rules: [{ name: 'alarms', condition: 'quality=ALARM', connectors: ['b'], priority: 5 }],
      defaultConnector: 'a',
      connectors: ['a', 'b'],
    }),
    connectors: [
      {
        name: 'a',
        definition,
        config: {},
        delivery: { flushIntervalMs: 5, batchSize: 50 },
        lane: opts.maxPoints ? { maxPoints: opts.maxPoints, whenFull: 'block' } : {},
      },
      { name: 'b', definition, config: {}, delivery: { flushIntervalMs: 5 } },
    ],
  });
  if (opts.start !== false) pipeline.start();
  const app = buildApi({
    pipeline,
    queue,
    secrets,
    connectorConfigs: {
      a: {
        type: 'recorder',
        endpoint: 'mqtt://u:hunter2-password@host',
        provider_config: { username: 'u', password: 'hunter2-password', token: 'abc' },
      },
      b: { type: 'recorder', provider_config: {} },
    },
    logger: pino({ level: 'silent' }),
    isAccepting: () => true,
    version: '0.0.0-test',
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.history ? { history: opts.history } : {}),
  });
  const h = { app, pipeline, queue, received, written };
  open.push(h);
  return h;
}

const point = (i: number, extra: Record<string, unknown> = {}) => ({
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 20 + i,
  ...extra,
});

/** How long vi.waitFor polls for delivery here. */
const DELIVERY = { timeout: 5_000, interval: 10 };

describe('REST API', () => {
  it('GET /health and /ready', async () => {
    const { app } = harness();
    const health = await app.inject('/health');
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', version: '0.0.0-test' });
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ready: true });
  });

  it('/ready is 503 while the gateway does not accept data', async () => {
    const h = harness();
    const app = buildApi({
      pipeline: h.pipeline,
      queue: h.queue,
      secrets: new SecretRegistry(),
      connectorConfigs: {},
      logger: pino({ level: 'silent' }),
      isAccepting: () => false,
      version: 'x',
    });
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(503);
    await app.close();
  });

  it('/ready and /api/cloud/health turn red while the queue storage fails, and green once it works again', async () => {
    let broken = true;
    // The memory queue with a lease that throws, as a queue on a failing disk would.
    const failingLease = (q: DurableQueue) =>
      new Proxy(q, {
        get(target, key) {
          if (key === 'lease' && broken) return () => Promise.reject(new Error('disk I/O error'));
          const v = Reflect.get(target, key) as unknown;
          return typeof v === 'function' ? (v.bind(target) as unknown) : v;
        },
      });
    const { app, received } = harness({ wrapQueue: (q) => withOperationHealth(failingLease(q)) });
    expect((await app.inject({ method: 'POST', url: '/api/data', payload: [point(1)] })).statusCode).toBe(200);
    const ready = await vi.waitFor(
      async () => {
        const r = await app.inject('/ready');
        expect(r.statusCode).toBe(503);
        return r;
      },
      { timeout: 2_000, interval: 20 },
    );
    expect(ready.json()).toMatchObject({
      ready: false,
      queue: { ok: false, reason: expect.stringContaining('lease failed: disk I/O error') as unknown },
    });
    const health = await app.inject('/api/cloud/health');
    expect(health.json()).toMatchObject({ status: 'unhealthy', queue: { ok: false } });

    broken = false;
    await vi.waitFor(() => expect(received).toHaveLength(1), DELIVERY);
    expect((await app.inject('/ready')).statusCode).toBe(200);
    expect((await app.inject('/api/cloud/health')).json<{ queue: unknown }>().queue).toEqual({ ok: true });
  });

  it('POST /api/data routes points, answers with their ids, and they are delivered', async () => {
    const { app, received } = harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/data',
      payload: [point(1), point(2, { quality: 'ALARM' })],
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ ids: string[] }>();
    expect(body).toMatchObject({ accepted: 2, queued: 2, unrouted: 0 });
    expect(body.ids).toHaveLength(2);
    await vi.waitFor(() => expect(received).toHaveLength(2), DELIVERY);
    expect(received.map((p) => p.id).sort()).toEqual([...body.ids].sort());
  });

  it('POST /api/cloud/connectors/{name}/data queues for that connector only; single point and { points } bodies work', async () => {
    const { app, received, pipeline } = harness();
    const one = await app.inject({ method: 'POST', url: '/api/cloud/connectors/b/data', payload: point(1) });
    expect(one.statusCode).toBe(200);
    const many = await app.inject({
      method: 'POST',
      url: '/api/cloud/connectors/b/data',
      payload: { points: [point(2), { device_id: 'PLC002', tag_name: 'x', value: true }] },
    });
    expect(many.json()).toMatchObject({ accepted: 2, queued: 2 });
    await vi.waitFor(() => expect(received).toHaveLength(3), DELIVERY);
    expect(pipeline.metricsSnapshot().connectors.find((c) => c.name === 'b')!.sent).toBe(3);
    expect(pipeline.metricsSnapshot().connectors.find((c) => c.name === 'a')!.sent).toBe(0);
  });

  it('400 with the field path for malformed points, bad JSON and empty bodies', async () => {
    const { app } = harness();
    const bad = await app.inject({
      method: 'POST',
      url: '/api/data',
      payload: [point(1), { deviceId: 'x', tagName: 't', value: [1] }],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'BIFROST_ERR_INVALID_POINT', issues: [{ path: '[1].value' }] });
    const wrapped = await app.inject({
      method: 'POST',
      url: '/api/data',
      payload: { points: [{ tagName: 't', value: 1 }] },
    });
    expect(wrapped.json<ErrorAnswer>().issues[0]?.path).toBe('points[0].deviceId');
    const json = await app.inject({
      method: 'POST',
      url: '/api/data',
      headers: { 'content-type': 'application/json' },
      payload: '{"deviceId": ',
    });
    expect(json.statusCode).toBe(400);
    const empty = await app.inject({ method: 'POST', url: '/api/data' });
    expect(empty.statusCode).toBe(400);
  });

  it('a __proto__ or constructor key anywhere in a point body, escaped or not, is refused and pollutes nothing', async () => {
    const { app, queue } = harness();
    const bodies = [
      '[{"deviceId":"d","tagName":"t","value":1,"__proto__":{"polluted":true}}]',
      '[{"deviceId":"d","tagName":"t","value":{"__proto__":{"polluted":true}}}]',
      '[{"deviceId":"d","tagName":"t","value":1,"tags":{"\\u005f_proto__":"x"}}]',
      '[{"deviceId":"d","tagName":"t","value":{"constructor":{"prototype":{"polluted":true}}}}]',
    ];
    for (const payload of bodies) {
      for (const url of ['/api/data', '/api/cloud/connectors/a/data']) {
        const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
        expect(res.statusCode, payload).toBe(400);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(queue.stats('a').points + queue.stats('b').points).toBe(0);
    // The words themselves in values are fine.
    const ok = await app.inject({
      method: 'POST',
      url: '/api/data',
      headers: { 'content-type': 'application/json' },
      payload: '[{"deviceId":"constructor","tagName":"__proto__x","value":"\\u00b0C"}]',
    });
    expect(ok.statusCode).toBe(200);
  });

  it('400 for a name no sink can carry (U+0001 in a device id), and nothing of that request is queued', async () => {
    const { app, queue } = harness();
    const res = await app.inject({
      method: 'POST',
      url: '/api/data',
      payload: [
        { deviceId: 'x\u0001y', tagName: 't', value: 1 },
        { deviceId: 'sentinel', tagName: 't', value: 2 },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      issues: [{ path: '[0].deviceId', message: expect.stringContaining('U+0001') as unknown }],
    });
    expect(queue.stats('a').points).toBe(0);
  });

  it('validates query and body numbers, answers 405 for a known path with the wrong method, and knows no __proto__ connector', async () => {
    const { app, pipeline } = harness();
    for (const q of ['limit=', 'limit=99999999999999999999', 'limit=1e3', 'offset=-1', 'limit=10001'])
      expect((await app.inject({ method: 'GET', url: `/api/cloud/deadletters?${q}` })).statusCode, q).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/cloud/deadletters?limit=10' })).statusCode).toBe(200);
    const nullSeq = await app.inject({
      method: 'POST',
      url: '/api/cloud/deadletters/replay',
      payload: { seqs: [null] },
    });
    expect(nullSeq.statusCode).toBe(400);
    expect(pipeline.health().every((h) => h.status !== 'unhealthy')).toBe(true);
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/api/data' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    const wrongOnParam = await app.inject({ method: 'PUT', url: '/api/cloud/connectors/a/config' });
    expect(wrongOnParam.statusCode).toBe(405);
    expect((await app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
    for (const name of ['__proto__', 'constructor', 'toString'])
      expect((await app.inject({ method: 'GET', url: `/api/cloud/connectors/${name}/config` })).statusCode, name).toBe(
        404,
      );
  });

  it('413 for a body over the limit', async () => {
    const { app } = harness({ bodyLimit: 1024 });
    const res = await app.inject({
      method: 'POST',
      url: '/api/data',
      payload: Array.from({ length: 100 }, (_, i) => point(i)),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json<ErrorAnswer>().error).toBe('BIFROST_ERR_BODY_TOO_LARGE');
  });

  it('404 for unknown connectors and routes', async () => {
    const { app } = harness();
    for (const req of [
      { method: 'POST' as const, url: '/api/cloud/connectors/nope/data', payload: point(1) },
      { method: 'GET' as const, url: '/api/cloud/connectors/nope/config' },
      { method: 'GET' as const, url: '/api/cloud/deadletters?connector=nope' },
      { method: 'GET' as const, url: '/no/such/route' },
    ]) {
      const res = await app.inject(req);
      expect(res.statusCode, req.url).toBe(404);
    }
  });

  it('503 with Retry-After when a block queue is full; nothing of the request is queued', async () => {
    const { app, queue } = harness({ maxPoints: 3, start: false });
    expect(
      (await app.inject({ method: 'POST', url: '/api/cloud/connectors/a/data', payload: [point(1), point(2)] }))
        .statusCode,
    ).toBe(200);
    const full = await app.inject({
      method: 'POST',
      url: '/api/cloud/connectors/a/data',
      payload: [point(3), point(4)],
    });
    expect(full.statusCode).toBe(503);
    expect(Number(full.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(full.json<ErrorAnswer>().error).toBe('BIFROST_ERR_QUEUE_FULL');
    expect(queue.stats('a').points).toBe(2);
  });

  it('GET /api/cloud/connectors/{name}/config redacts secrets by key and by value', async () => {
    const { app } = harness();
    const res = await app.inject('/api/cloud/connectors/a/config');
    expect(res.statusCode).toBe(200);
    const text = res.body;
    expect(text).not.toContain('hunter2-password');
    const { config } = res.json<{ config: { provider_config: unknown; endpoint: string } }>();
    expect(config.provider_config).toEqual({ username: 'u', password: '***', token: '***' });
    expect(config.endpoint).toBe('mqtt://u:***@host');
  });

  it('GET /api/cloud/health and /api/cloud/metrics report connectors and devices', async () => {
    const { app, received, written } = harness();
    await app.inject({ method: 'POST', url: '/api/data', payload: [point(1), point(2)] });
    await vi.waitFor(() => expect(received).toHaveLength(2), DELIVERY);
    expect(written.bytes).toBeGreaterThan(0);
    const health = await app.inject('/api/cloud/health');
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: expect.any(String) as unknown, queue: { ok: true } });
    expect(health.json<{ connectors: ConnectorMetrics[] }>().connectors.map((c) => c.name)).toEqual(['a', 'b']);
    const metrics = (await app.inject('/api/cloud/metrics')).json<{
      connectors: ConnectorMetrics[];
      devices: Record<string, { ingested: number }>;
    }>();
    const a = metrics.connectors.find((c) => c.name === 'a');
    expect(a).toMatchObject({ sent: 2, failed: 0, breaker: 'closed', queue: { depth: 0 }, bytesSent: written.bytes });
    expect(a?.successRate).toBe(1);
    expect(metrics.devices.PLC001?.ingested).toBe(2);
  });

  it('dead letters: list, replay and purge', async () => {
    const { app, received, pipeline } = harness();
    await app.inject({
      method: 'POST',
      url: '/api/cloud/connectors/a/data',
      payload: [point(1, { deviceId: 'poison' }), point(2, { deviceId: 'poison' }), point(3)],
    });
    await vi.waitFor(() => {
      expect(received).toHaveLength(1);
      expect(pipeline.metricsSnapshot().connectors[0]?.deadLettered).toBe(2);
    }, DELIVERY);
    const list = await app.inject('/api/cloud/deadletters?connector=a');
    expect(list.statusCode).toBe(200);
    const dls = list.json<DeadLetterAnswer>().deadLetters;
    expect(dls).toHaveLength(2);
    const [first] = dls;
    expect(first).toMatchObject({ connector: 'a', code: expect.any(String) as unknown, point: { deviceId: 'poison' } });
    const replay = await app.inject({
      method: 'POST',
      url: '/api/cloud/deadletters/replay',
      payload: { connector: 'a', seqs: [first?.seq] },
    });
    expect(replay.json()).toEqual({ replayed: 1 });
    await vi.waitFor(() => expect(pipeline.metricsSnapshot().connectors[0]?.deadLettered).toBe(3), DELIVERY);
    const purge = await app.inject({
      method: 'POST',
      url: '/api/cloud/deadletters/purge',
      payload: { connector: 'a' },
    });
    expect(purge.json()).toEqual({ purged: 2 });
    expect((await app.inject('/api/cloud/deadletters')).json<DeadLetterAnswer>().deadLetters).toEqual([]);
    const badFilter = await app.inject({
      method: 'POST',
      url: '/api/cloud/deadletters/replay',
      payload: { seqs: ['x'] },
    });
    expect(badFilter.statusCode).toBe(400);
    expect(badFilter.json<ErrorAnswer>().issues[0]?.path).toBe('seqs');
    const badLimit = await app.inject('/api/cloud/deadletters?limit=-1');
    expect(badLimit.json<ErrorAnswer>().issues[0]?.path).toBe('limit');
  });

  it('GET /metrics serves the seed Prometheus names', async () => {
    const { app, received } = harness();
    await app.inject({ method: 'POST', url: '/api/data', payload: [point(1)] });
    await vi.waitFor(() => expect(received).toHaveLength(1), DELIVERY);
    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of [
      'bifrost_cloud_data_points_sent_total',
      'bifrost_cloud_data_points_failed_total',
      'bifrost_cloud_batch_operations_total',
      'bifrost_cloud_connection_attempts_total',
      'bifrost_cloud_buffer_size',
      'bifrost_cloud_response_time_seconds',
      'bifrost_cloud_breaker_state',
    ]) {
      expect(res.body).toContain(name);
    }
    expect(res.body).toMatch(/bifrost_cloud_data_points_sent_total\{connector="a",type="recorder"\} 1/);
  });

  it('GET /api/cloud/queue/integrity and POST /api/cloud/queue/acknowledge: damage degrades health until acknowledged', async () => {
    let acknowledged = false;
    const incident = {
      id: 1,
      time: 1,
      kind: 'quarantine' as const,
      message: 'chunk 7 quarantined: checksum mismatch',
      lost: 4,
    };
    const { app } = harness({
      wrapQueue: (q) =>
        new Proxy(q, {
          get(target, prop) {
            if (prop === 'integrity')
              return () => ({
                incidents: acknowledged ? [] : [incident],
                quarantined: acknowledged ? 0 : 4,
                recovered: 0,
                lost: 0,
              });
            if (prop === 'health')
              return () => (acknowledged ? { ok: true } : { ok: true, degraded: incident.message });
            if (prop === 'stats') return (c: string) => ({ ...target.stats(c), quarantined: c === 'a' ? 4 : 0 });
            if (prop === 'acknowledgeIntegrity')
              return () => {
                acknowledged = true;
                return Promise.resolve(1);
              };
            const v = Reflect.get(target, prop, target) as unknown;
            return typeof v === 'function' ? (v.bind(target) as unknown) : v;
          },
        }),
    });
    expect((await app.inject('/api/cloud/queue/integrity')).json()).toMatchObject({
      quarantined: 4,
      incidents: [incident],
    });
    expect((await app.inject('/api/cloud/health')).json()).toMatchObject({
      status: 'degraded',
      queue: { degraded: incident.message },
    });
    expect((await app.inject('/ready')).statusCode).toBe(200);
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/bifrost_cloud_points_quarantined_total\{connector="a",type="recorder"\} 4/);
    expect(metrics).toMatch(/bifrost_cloud_queue_integrity_incidents 1/);
    const ack = await app.inject({ method: 'POST', url: '/api/cloud/queue/acknowledge' });
    expect(ack.json()).toEqual({ acknowledged: 1, queue: { ok: true } });
    expect((await app.inject('/api/cloud/health')).json()).toMatchObject({ status: 'healthy' });
    expect((await app.inject('/api/cloud/queue/integrity')).json()).toMatchObject({ incidents: [] });
    expect((await app.inject('/metrics')).body).toMatch(/bifrost_cloud_queue_integrity_incidents 0/);
  });

  it('GET /openapi.json describes every route the server has', async () => {
    const { app } = harness();
    const doc = (await app.inject('/openapi.json')).json<{
      openapi: string;
      paths: Record<string, Record<string, unknown> | undefined>;
    }>();
    expect(doc.openapi).toBe('3.1.0');
    for (const r of ROUTES) expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    // The reverse (every served route is in ROUTES) is enforced by buildApi's onRoute hook.
    for (const r of ROUTES)
      expect(app.hasRoute({ method: r.method, url: r.path.replace('{name}', ':name') }), `${r.method} ${r.path}`).toBe(
        true,
      );
  });

  it('GET / serves the status page', async () => {
    const { app } = harness({ token: 't0ken-value' });
    const res = await app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    for (const used of [
      '/api/cloud/metrics',
      '/api/cloud/health',
      '/api/cloud/history',
      '/api/cloud/deadletters?connector=',
      '/api/cloud/deadletters/replay',
      '/breaker/reset',
    ])
      expect(res.body).toContain(used);
    expect(res.body).toContain('function formatCount(');
  });

  it('GET /api/cloud/history has a sample from the start, then one per interval with rates', async () => {
    const { app, received } = harness({ history: { intervalMs: 50, windowMs: 10_000 } });
    const first = (await app.inject('/api/cloud/history')).json<HistoryAnswer>();
    expect(first).toMatchObject({ intervalMs: 50, windowMs: 10_000 });
    expect(first.samples[0]?.connectors.map((c) => c.name)).toEqual(['a', 'b']);
    await app.inject({ method: 'POST', url: '/api/data', payload: [point(1), point(2), point(3)] });
    await vi.waitFor(() => expect(received.length === 3).toBe(true));
    await vi.waitFor(
      async () => {
        const { samples } = (await app.inject('/api/cloud/history')).json<HistoryAnswer>();
        const a = samples.at(-1)?.connectors.find((c) => c.name === 'a');
        expect(a).toMatchObject({ sent: 3, queueDepth: 0, breaker: 'closed', deadLetters: 0 });
        expect(samples.some((s) => (s.connectors[0]?.sentPerSecond ?? 0) > 0)).toBe(true);
      },
      { timeout: 5_000, interval: 50 },
    );
  });

  it('POST /api/cloud/connectors/{name}/breaker/reset closes an open breaker and delivers what waited', async () => {
    const { app, received, pipeline } = harness({ authFailures: 1 });
    await app.inject({ method: 'POST', url: '/api/cloud/connectors/a/data', payload: [point(1), point(2)] });
    await vi.waitFor(() => expect(pipeline.metricsSnapshot().connectors[0]!.breaker === 'open').toBe(true));
    expect(received).toHaveLength(0);
    const res = await app.inject({ method: 'POST', url: '/api/cloud/connectors/a/breaker/reset' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'a', reset: true, breaker: 'closed' });
    await vi.waitFor(() => expect(received.length === 2).toBe(true));
    const again = await app.inject({ method: 'POST', url: '/api/cloud/connectors/a/breaker/reset' });
    expect(again.json()).toMatchObject({ reset: false, breaker: 'closed' });
    expect((await app.inject({ method: 'POST', url: '/api/cloud/connectors/nope/breaker/reset' })).statusCode).toBe(
      404,
    );
  });

  it('bearer token: 401 without it on every route but /health and the page shell', async () => {
    const { app } = harness({ token: 't0ken-value' });
    expect((await app.inject('/health')).statusCode).toBe(200);
    for (const url of [
      '/ready',
      '/api/cloud/health',
      '/api/cloud/metrics',
      '/api/cloud/history',
      '/metrics',
      '/openapi.json',
      '/api/cloud/deadletters',
      '/api/cloud/connectors/a/config',
    ]) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.headers['www-authenticate']).toContain('Bearer');
      expect((await app.inject({ url, headers: { authorization: 'Bearer wrong-token' } })).statusCode, url).toBe(401);
    }
    const post = await app.inject({ method: 'POST', url: '/api/data', payload: [point(1)] });
    expect(post.statusCode).toBe(401);
    const ok = await app.inject({
      method: 'POST',
      url: '/api/data',
      payload: [point(1)],
      headers: { authorization: 'Bearer t0ken-value' },
    });
    expect(ok.statusCode).toBe(200);
  });
});
