// InfluxDB's write APIs (`POST /write` of 1.x, `POST /api/v2/write` of 2.x) so Telegraf agents and
// Influx client libraries send to Bifrost unchanged. Bodies are line protocol, plain or gzip. Beside
// them, what those clients call before writing: `GET /ping`, and `POST /query` for the
// `CREATE DATABASE` Telegraf's `outputs.influxdb` sends at start.
import { createGunzip } from 'node:zlib';
import type { Pipeline } from '@bifrost/core/host';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { pointsFromLines, type LineMapping, type Precision } from '../ingest/line-points.js';
import { parseLineProtocol, type LineError } from '../ingest/line-protocol.js';

/** Paths of the InfluxDB-compatible routes that take the token as InfluxDB 1.x clients send it. */
export const INFLUX_AUTH_PATHS: ReadonlySet<string> = new Set(['/write', '/api/v2/write', '/query']);

/** The version `/ping` answers in `X-Influxdb-Version`: clients only log it. */
const PING_VERSION = '1.8-bifrost';

/** JavaScript's `\s`, spelled out so that other regex engines (an OpenAPI client's) read it alike. */
const SPACE = '[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]';

/** `word` in any case, without a flag: `[Cc][Rr]...`. */
const anyCase = (word: string) => [...word].map((c) => `[${c.toUpperCase()}${c.toLowerCase()}]`).join('');

/**
 * A `q` answered: `CREATE DATABASE <name>` in any case, the name quoted or not, then anything (trailing
 * clauses). A plain pattern, no flags, so `/openapi.json` documents `q` with exactly this text.
 */
export const CREATE_DATABASE_PATTERN = `^${SPACE}*${anyCase('create')}${SPACE}+${anyCase('database')}${SPACE}+[^${SPACE.slice(1, -1)}]`;

const CREATE_DATABASE = new RegExp(CREATE_DATABASE_PATTERN, 'u');

/** `precision` values of each API and what they mean. */
const PRECISIONS: Record<'v1' | 'v2', Record<string, Precision>> = {
  v1: { n: 'ns', ns: 'ns', u: 'us', us: 'us', ms: 'ms', s: 's', m: 'm', h: 'h' },
  v2: { ns: 'ns', us: 'us', ms: 'ms', s: 's' },
};

/** Bad lines named in an answer at most (their count is always given). */
const LINES_NAMED = 10;

/** InfluxDB's error body of each API: 1.x reads `error`, 2.x `code` and `message`; `issues` name every line. */
function errorBody(api: 'v1' | 'v2', message: string, errors: readonly LineError[] = []) {
  const issues = errors.map((e) => ({ path: `line ${e.line}`, message: e.message }));
  return api === 'v1' ? { error: message, issues } : { code: 'invalid', message, issues };
}

/** `unable to parse line 3: ...; line 7: ...`, naming the first {@link LINES_NAMED} bad lines. */
function describeErrors(errors: readonly LineError[]): string {
  const named = errors
    .slice(0, LINES_NAMED)
    .map((e) => `line ${e.line}: ${e.message}`)
    .join('; ');
  return `unable to parse ${named}${errors.length > LINES_NAMED ? `; and ${errors.length - LINES_NAMED} more bad lines` : ''}`;
}

/**
 * Registers `POST /write` and `POST /api/v2/write`. Each point is one field of a line (see
 * {@link pointsFromLines}). The answer is 204 once the points are durably queued. Bad lines follow
 * InfluxDB's partial writes: the good lines are queued, then 400 names the bad ones (`partial write:
 * unable to parse line 3: ...`), so a client that drops a 400 batch (Telegraf does) loses only them.
 * `db`, `rp`, `org` and `bucket` are accepted and not used: routing rules pick the connectors.
 */
export function registerInfluxWrite(
  app: FastifyInstance,
  deps: { pipeline: Pipeline; mapping: LineMapping; onRequest: onRequestHookHandler },
): void {
  void app.register((scope, _opts, done) => {
    // Any content type (Telegraf sends text/plain, client libraries often none): the body as text.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, parsed) => parsed(null, body));
    scope.addHook('preParsing', (req, reply, payload, next) => {
      const encoding = req.headers['content-encoding']?.toLowerCase();
      if (encoding === undefined || encoding === 'identity') return next(null, payload);
      if (encoding !== 'gzip') {
        void reply.code(415).send({
          error: 'BIFROST_ERR_ENCODING',
          message: `unsupported Content-Encoding "${encoding}"; use gzip or none`,
        });
        return;
      }
      // The body limit then applies to the decompressed text; the gzip bytes are counted against Content-Length.
      const gunzip = createGunzip() as ReturnType<typeof createGunzip> & { receivedEncodedLength: number };
      gunzip.receivedEncodedLength = 0;
      payload.on('data', (chunk: Buffer) => {
        gunzip.receivedEncodedLength += chunk.length;
      });
      payload.pipe(gunzip);
      next(null, gunzip);
    });
    const write = (api: 'v1' | 'v2') => async (req: FastifyRequest, reply: FastifyReply) => {
      const query = req.query as Record<string, string | undefined>;
      const precision = PRECISIONS[api][query.precision ?? 'ns'];
      if (precision === undefined)
        return reply
          .code(400)
          .send(
            errorBody(api, `precision "${query.precision}" is not one of ${Object.keys(PRECISIONS[api]).join(', ')}`),
          );
      const body = typeof req.body === 'string' ? req.body : '';
      const parsed = parseLineProtocol(body);
      const { points, errors } = pointsFromLines(parsed.lines, precision, Date.now(), deps.mapping);
      errors.push(...parsed.errors);
      errors.sort((a, b) => a.line - b.line);
      if (points.length) await deps.pipeline.ingest(points);
      if (!errors.length) return reply.code(204).send();
      const message = points.length
        ? `partial write: ${describeErrors(errors)} (${errors.length} bad lines refused; the ${points.length} points of the other lines were queued)`
        : describeErrors(errors);
      return reply.code(400).send(errorBody(api, message, errors));
    };
    scope.post('/write', { onRequest: deps.onRequest }, write('v1'));
    scope.post('/api/v2/write', { onRequest: deps.onRequest }, write('v2'));
    done();
  });
}

/**
 * `GET /ping` (204 with `X-Influxdb-Version`, as InfluxDB answers it) and `POST /query`, which
 * answers `CREATE DATABASE` as done (routing rules, not databases, pick where points go) and refuses
 * any other statement: Bifrost takes writes, it does not serve queries. `q` comes in the query string
 * or a form body, as InfluxDB 1.x clients send it.
 */
export function registerInfluxCompat(app: FastifyInstance): void {
  app.get('/ping', (_req, reply) => reply.code(204).header('x-influxdb-version', PING_VERSION).send());
  void app.register((scope, _opts, done) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, parsed) =>
      parsed(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString()))),
    );
    scope.post('/query', (req, reply) => {
      const fromQuery = (req.query as Record<string, unknown>).q;
      const fromForm = (req.body as Record<string, unknown> | undefined)?.q;
      const q = typeof fromQuery === 'string' ? fromQuery : typeof fromForm === 'string' ? fromForm : undefined;
      if (q === undefined) return reply.code(400).send({ error: 'missing required parameter "q"' });
      if (!CREATE_DATABASE.test(q))
        return reply.code(400).send({
          error: `Bifrost takes writes (POST /write), not queries; only CREATE DATABASE is answered, as a no-op. Refused: ${q.slice(0, 100)}`,
        });
      return reply.code(200).send({ results: [{ statement_id: 0 }] });
    });
    done();
  });
}
