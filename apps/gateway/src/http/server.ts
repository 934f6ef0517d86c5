import { timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type { DataPoint } from '@bifrost/core';
import {
  parsePoints,
  PointValidationError,
  QueueFullError,
  QueueStorageError,
  UnknownConnectorError,
  type ConnectionTestResult,
  type DeadLetterFilter,
  type DurableQueue,
  type Pipeline,
} from '@bifrost/core/host';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { SecretRegistry } from '../config/secrets.js';
import { dashboardHtml } from './dashboard.js';
import { INFLUX_AUTH_PATHS, registerInfluxCompat, registerInfluxWrite } from './influx-write.js';
import { IngestBudget } from './ingest-budget.js';
import type { LineMapping } from '../ingest/line-points.js';
import { MetricsHistory, type HistoryOptions } from './history.js';
import { buildOpenApi, MAX_DEAD_LETTER_PAGE, ROUTES } from './openapi.js';

/** What the HTTP API serves. */
export interface ApiDeps {
  pipeline: Pipeline;
  queue: DurableQueue;
  /** Per connector name: its config as written (host fields and provider_config); redacted when served. */
  connectorConfigs: Record<string, unknown>;
  secrets: SecretRegistry;
  logger: PinoLogger;
  /** Bearer token required on every route but `/health` and the page shell `/`. */
  token?: string;
  /** Largest request body, bytes (413 above). Default 1 MiB. */
  bodyLimit?: number;
  /** Bytes of data-POST bodies being ingested at once (503 with Retry-After above). Default 16 MiB. */
  maxIngestBytes?: number;
  /** How `POST /write` and `/api/v2/write` turn line protocol into points. */
  lineProtocol?: LineMapping;
  /** PEM server certificate and key for HTTPS. */
  https?: { cert: string; key: string; ca?: string };
  /**
   * A connection test of a configured connector (a fresh instance connects, probes and closes; the
   * running one and its queue are untouched); undefined for an unknown name.
   */
  testConnection?(name: string): Promise<ConnectionTestResult> | undefined;
  /** False while starting or stopping: `/ready` answers 503. */
  isAccepting(): boolean;
  /** Version shown in `/health` and `/openapi.json`. */
  version: string;
  /** Sampling of `GET /api/cloud/history`; default every 5 s over the last 15 min. */
  history?: HistoryOptions;
}

/** Error body of every non-2xx answer. */
interface ErrorBody {
  error: string;
  message: string;
  issues?: Array<{ path: string; message: string }>;
}

/** A malformed request other than a point (dead-letter filters): 400 naming the field. */
class BadRequestError extends Error {
  readonly code = 'BIFROST_ERR_BAD_REQUEST';
  constructor(readonly issues: Array<{ path: string; message: string }>) {
    super(`[bifrost] bad request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  }
}

const PUBLIC_ROUTES = new Set(['/health', '/', '/ping']);

/**
 * The token a request presents: `Authorization: Bearer <token>` or `Token <token>` (InfluxDB 2.x
 * clients); on the InfluxDB-compatible routes also as InfluxDB 1.x clients send it, the password of Basic
 * auth or the `p` query parameter.
 */
function presentedToken(req: FastifyRequest, path: string): string | undefined {
  const header = req.headers.authorization ?? '';
  const scheme = /^(?:Bearer|Token)\s+(.+)$/i.exec(header)?.[1];
  if (scheme !== undefined || !INFLUX_AUTH_PATHS.has(path)) return scheme;
  const basic = /^Basic\s+(.+)$/i.exec(header)?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString();
    return decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : undefined;
  }
  const p = (req.query as Record<string, unknown>).p;
  return typeof p === 'string' ? p : undefined;
}

function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a JSON text could hold a `__proto__` or `constructor` key, escaped or not. */
function mayPoison(text: string): boolean {
  return text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');
}

/** Accepts a point, an array of points or `{ "points": [...] }`; errors name the field (`points[3].value`). */
function pointsFromBody(body: unknown): DataPoint[] {
  if (body === undefined || body === null || body === '') {
    throw new PointValidationError([
      { path: '(body)', message: 'a JSON point, an array of points or { "points": [...] } is required' },
    ]);
  }
  if (typeof body === 'object' && !Array.isArray(body) && 'points' in body) {
    const extra = Object.keys(body).find((k) => k !== 'points');
    if (extra !== undefined) throw new PointValidationError([{ path: extra, message: 'unknown field beside points' }]);
    const list = body.points;
    if (!Array.isArray(list))
      throw new PointValidationError([{ path: 'points', message: 'must be an array of points' }]);
    try {
      return parsePoints(list, Date.now(), { adopt: true });
    } catch (err) {
      if (err instanceof PointValidationError)
        throw new PointValidationError(err.issues.map((i) => ({ ...i, path: `points${i.path}` })));
      throw err;
    }
  }
  return parsePoints(body, Date.now(), { adopt: true });
}

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/**
 * Fastify's own schema compilers, loaded on first use. Fastify requires them (ajv, ajv-formats,
 * fast-json-stringify: ~1.5 MB of RSS) whenever an instance is created, but no route of this API
 * declares a schema, so they are never called. Resolved from fastify's own dependencies.
 * Side effect to know when adding a route schema: fastify treats these as custom compilers and so
 * does not lower-case the keys of a `headers` schema.
 */
function lazySchemaCompilers(): CompilersFactory {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
  return {
    buildValidator: onFirstCall(() =>
      (fromFastify('@fastify/ajv-compiler') as () => CompilersFactory['buildValidator'])()!,
    ),
    buildSerializer: onFirstCall(() =>
      (fromFastify('@fastify/fast-json-stringify-compiler') as () => CompilersFactory['buildSerializer'])()!,
    ),
  };
}

/** A function that calls the one `load` returns, calling `load` once, on the first call. */
function onFirstCall<F>(load: () => F): F {
  let fn: ((...args: unknown[]) => unknown) | undefined;
  return ((...args: unknown[]) => (fn ??= load() as (...a: unknown[]) => unknown)(...args)) as F;
}

/**
 * Builds the REST API (not listening yet). Routes are listed in {@link ROUTES} and described at
 * `/openapi.json`. A data POST answers 200 only after its points are durably queued.
 */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const bodyLimit = deps.bodyLimit ?? 1_048_576;
  const ingestBudget = new IngestBudget(deps.maxIngestBytes ?? DEFAULT_MAX_INGEST_BYTES, bodyLimit);
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    schemaController: { compilersFactory: lazySchemaCompilers() },
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  const documented = new Set(ROUTES.map((r) => `${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`));
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && !documented.has(`${method} ${route.url}`))
        throw new Error(`[bifrost] route ${method} ${route.url} is missing from ROUTES (openapi.ts)`);
    }
  });
  const redact = <T>(v: T): T => deps.secrets.redact(v);
  const history = new MetricsHistory(() => deps.pipeline.metricsSnapshot(), deps.history);
  history.start();
  app.addHook('onClose', (_instance, done) => {
    history.stop();
    done();
  });
  const connectorNames = () => new Set(Object.keys(deps.connectorConfigs));
  /** A query or body number: an integer written in digits (no empty string, exponent or null). */
  const wholeNumber = (v: unknown, max: number): number | undefined => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) && n >= 0 && n <= max ? n : undefined;
  };

  if (deps.token) {
    const token = deps.token;
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const [path = ''] = req.url.split('?', 1);
      if (PUBLIC_ROUTES.has(path)) return;
      if (!tokenMatches(presentedToken(req, path), token)) {
        reply.header('www-authenticate', 'Bearer realm="bifrost"');
        return reply.code(401).send({
          error: 'BIFROST_ERR_UNAUTHORIZED',
          message: 'missing or wrong bearer token (Authorization: Bearer <token>)',
        } satisfies ErrorBody);
      }
    });
  }

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof PointValidationError || err instanceof BadRequestError) {
      return reply
        .code(400)
        .send({ error: err.code, message: redact(err.message), issues: redact(err.issues) } satisfies ErrorBody);
    }
    if (err instanceof QueueFullError) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      return reply.code(503).send({ error: err.code, message: err.message } satisfies ErrorBody);
    }
    if (err instanceof QueueStorageError) {
      reply.header('retry-after', '5');
      return reply.code(503).send({ error: err.code, message: redact(err.message) } satisfies ErrorBody);
    }
    if (err instanceof UnknownConnectorError)
      return reply.code(404).send({ error: err.code, message: err.message } satisfies ErrorBody);
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.logger.error({ err: { message: redact(err.message), code: err.code } }, 'request failed');
    const code = err.code?.startsWith('FST_ERR_CTP_BODY_TOO_LARGE')
      ? 'BIFROST_ERR_BODY_TOO_LARGE'
      : (err.code ?? 'BIFROST_ERR_INTERNAL');
    return reply
      .code(status)
      .send({ error: code, message: redact(status === 500 ? 'internal error' : err.message) } satisfies ErrorBody);
  });

  const notFound = (reply: FastifyReply, name: string) =>
    reply.code(404).send({
      error: 'BIFROST_ERR_UNKNOWN_CONNECTOR',
      message: `unknown connector "${name}" (configured: ${[...connectorNames()].join(', ') || 'none'})`,
    } satisfies ErrorBody);

  /** A query or body value as text for parsing and messages: strings as they are, anything else as JSON. */
  const asText = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));
  const deadLetterFilter = (
    q: Record<string, unknown>,
    allowed: readonly string[] = ['connector', 'seqs', 'limit', 'offset'],
    fromBody = false,
  ): DeadLetterFilter => {
    const f: DeadLetterFilter = {};
    const bad = (path: string, message: string) => new BadRequestError([{ path, message }]);
    const unknown = Object.keys(q).filter((k) => !allowed.includes(k));
    if (unknown.length) throw bad(unknown[0] ?? '', `unknown field; expected ${allowed.join(', ')}`);
    if (q.connector !== undefined) {
      if (typeof q.connector !== 'string' || !connectorNames().has(q.connector))
        throw new UnknownConnectorError(asText(q.connector), [...connectorNames()]);
      f.connector = q.connector;
    }
    for (const [key, max] of [
      ['limit', MAX_DEAD_LETTER_PAGE],
      ['offset', Number.MAX_SAFE_INTEGER],
    ] as const) {
      if (q[key] === undefined) continue;
      const n = wholeNumber(q[key], max);
      if (n === undefined) throw bad(key, `must be an integer from 0 to ${max}`);
      f[key] = n;
    }
    if (q.seqs !== undefined) {
      const list: unknown[] = Array.isArray(q.seqs) ? q.seqs : asText(q.seqs).split(',');
      if (fromBody && !(Array.isArray(q.seqs) && list.every((v) => typeof v === 'number')))
        throw bad('seqs', 'must be an array of dead-letter seq numbers');
      const seqs = list.map((v) => wholeNumber(v, Number.MAX_SAFE_INTEGER));
      if (seqs.some((n) => n === undefined)) throw bad('seqs', 'must be a list of dead-letter seq numbers');
      f.seqs = seqs as number[];
    }
    return f;
  };
  const bodyObject = (body: unknown): Record<string, unknown> => {
    if (body === undefined) return {};
    // JSON null is refused rather than read as "no filter": a purge of everything must be asked for plainly.
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw new BadRequestError([
        { path: '(body)', message: 'must be a JSON object like { "connector": "name", "seqs": [1, 2] }' },
      ]);
    return body as Record<string, unknown>;
  };

  app.get('/health', () => ({ status: 'ok', version: deps.version, uptime_s: Math.round(process.uptime()) }));

  app.get('/ready', (_req, reply) => {
    const q = deps.queue.health();
    const ready = deps.isAccepting() && q.ok;
    return reply.code(ready ? 200 : 503).send({ ready, queue: redact(q) });
  });

  app.get('/api/cloud/health', () => {
    const connectors = deps.pipeline.health();
    const queue = deps.queue.health();
    const status =
      !queue.ok || connectors.some((c) => c.status === 'unhealthy')
        ? 'unhealthy'
        : queue.degraded || connectors.some((c) => c.status === 'degraded')
          ? 'degraded'
          : 'healthy';
    return redact({ status, queue, connectors });
  });

  app.get('/api/cloud/metrics', () =>
    redact({
      ...deps.pipeline.metricsSnapshot(),
      uptime_s: Math.round(process.uptime()),
      rss_bytes: process.memoryUsage.rss(),
    }),
  );

  app.get('/api/cloud/history', () => redact(history.report()));

  const ingest = { onRequest: ingestBudget.onRequest };

  void app.register((scope, _opts, done) => {
    // Point bodies are refused with a `__proto__` or `constructor.prototype` key anywhere, as every
    // JSON body is, but the two regular expressions that look for them (a sixth of the parse of a
    // large body) run only on a body that holds one of the words or a \u escape that could spell them.
    const checked = scope.getDefaultJsonParser('error', 'error');
    const plain = scope.getDefaultJsonParser('ignore', 'ignore');
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body: string, parsed) =>
      (mayPoison(body) ? checked : plain)(req, body, parsed),
    );

    scope.post('/api/data', ingest, async (req) => {
      const points = pointsFromBody(req.body);
      const r = await deps.pipeline.ingest(points);
      return {
        accepted: points.length,
        queued: r.queued,
        unrouted: r.unrouted,
        dropped: r.dropped,
        ids: points.map((p) => p.id),
      };
    });

    scope.post<{ Params: { name: string } }>('/api/cloud/connectors/:name/data', ingest, async (req, reply) => {
      if (!connectorNames().has(req.params.name)) return notFound(reply, req.params.name);
      const points = pointsFromBody(req.body);
      const r = await deps.pipeline.ingest(points, { connector: req.params.name });
      return { accepted: points.length, queued: r.queued, dropped: r.dropped, ids: points.map((p) => p.id) };
    });
    done();
  });

  registerInfluxWrite(app, {
    pipeline: deps.pipeline,
    mapping: deps.lineProtocol ?? {},
    onRequest: ingestBudget.onRequest,
  });
  registerInfluxCompat(app);

  app.get<{ Params: { name: string } }>('/api/cloud/connectors/:name/config', async (req, reply) => {
    if (!Object.hasOwn(deps.connectorConfigs, req.params.name)) return notFound(reply, req.params.name);
    const cfg = deps.connectorConfigs[req.params.name];
    return { name: req.params.name, config: redact(cfg) };
  });

  app.post<{ Params: { name: string } }>('/api/cloud/connectors/:name/breaker/reset', async (req, reply) => {
    if (!connectorNames().has(req.params.name)) return notFound(reply, req.params.name);
    const reset = deps.pipeline.resetBreaker(req.params.name);
    const breaker = deps.pipeline.health().find((c) => c.name === req.params.name)?.breaker;
    return { name: req.params.name, reset, breaker };
  });

  app.post<{ Params: { name: string } }>('/api/cloud/connectors/:name/test', async (req, reply) => {
    const result = connectorNames().has(req.params.name) ? deps.testConnection?.(req.params.name) : undefined;
    if (!result) return notFound(reply, req.params.name);
    return redact({ name: req.params.name, ...(await result) });
  });

  app.get('/api/cloud/deadletters', async (req) => {
    const filter = deadLetterFilter(req.query as Record<string, unknown>);
    filter.limit ??= 100;
    return redact({ deadLetters: await deps.queue.listDeadLetters(filter) });
  });

  app.post('/api/cloud/deadletters/replay', async (req) => {
    const filter = deadLetterFilter(bodyObject(req.body), BODY_FILTER_FIELDS, true);
    const replayed = await deps.queue.replayDeadLetters(filter);
    deps.pipeline.notify(filter.connector);
    return { replayed };
  });

  app.post('/api/cloud/deadletters/purge', async (req) => {
    const purged = await deps.queue.purgeDeadLetters(deadLetterFilter(bodyObject(req.body), BODY_FILTER_FIELDS, true));
    return { purged };
  });

  app.get('/api/cloud/queue/integrity', () => redact(deps.queue.integrity()));

  app.post('/api/cloud/queue/acknowledge', async () => {
    const acknowledged = await deps.queue.acknowledgeIntegrity();
    return { acknowledged, queue: redact(deps.queue.health()) };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.pipeline.registry.contentType);
    return deps.pipeline.registry.metrics();
  });

  app.get('/openapi.json', () => buildOpenApi(deps.version));

  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(dashboardHtml()));

  // Fastify sends a request whose method no route has (QUERY, PROPFIND...) to the not-found handler
  // only after parsing its body, refusing a bodiless one with 400: answer every unrouted request here.
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return unrouted(req, reply);
  });
  app.setNotFoundHandler(unrouted);

  return app;
}

/** 405 with `Allow` for a documented path and another method, else 404. */
function unrouted(req: FastifyRequest, reply: FastifyReply) {
  const path = req.url.split('?')[0] ?? '';
  const allowed = ROUTES.filter((r) => routePattern(r.path).test(path)).map((r) => r.method);
  if (allowed.length)
    return reply
      .code(405)
      .header('allow', allowed.join(', '))
      .send({
        error: 'BIFROST_ERR_METHOD_NOT_ALLOWED',
        message: `${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`,
      } satisfies ErrorBody);
  return reply.code(404).send({
    error: 'BIFROST_ERR_NOT_FOUND',
    message: `no route ${req.method} ${path} (see /openapi.json; routes: ${ROUTES.map((r) => `${r.method} ${r.path}`).join(', ')})`,
  } satisfies ErrorBody);
}

/** Default of {@link ApiDeps.maxIngestBytes}: 16 MiB. */
export const DEFAULT_MAX_INGEST_BYTES = 16 * 1_048_576;

/** Fields of a dead-letter replay or purge body. */
const BODY_FILTER_FIELDS = ['connector', 'seqs'] as const;

/** A regular expression matching the concrete paths of an OpenAPI path like `/a/{name}/b`. */
function routePattern(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
}
