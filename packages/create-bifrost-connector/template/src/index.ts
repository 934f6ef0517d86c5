import {
  AuthError,
  CapacityError,
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  classifyError,
  defineConnector,
  type DataPoint,
  type RejectedPoint,
} from '@bifrost/core';
import { configSchema } from './config.js';

export { configSchema } from './config.js';

/**
 * __TYPE__: POSTs each batch as a JSON array to an HTTP receiver. A write resolves only when the
 * receiver answered 2xx for the whole batch; everything else is thrown as a classified error and the
 * Bifrost host retries, opens its breaker or dead-letters. Replace the HTTP calls with your protocol.
 */
export default defineConnector({
  type: '__TYPE__',
  configSchema,
  capabilities: { ordering: 'none', maxBatch: 1000, maxBatchBytes: 4 * 1024 * 1024 },
  create(config, ctx) {
    // No I/O here: create only validates and builds.
    const url = new URL(config.path, config.endpoint);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (config.token) headers.authorization = `Bearer ${config.token}`;
    let open = false;

    async function call(method: string, body: string | undefined, signal?: AbortSignal): Promise<Response> {
      try {
        return await fetch(url, { method, headers, body, signal });
      } catch (err) {
        // fetch wraps the socket error (ECONNREFUSED, ECONNRESET, a TLS error) in its cause.
        throw classifyError((err as { cause?: unknown }).cause ?? err);
      }
    }

    /** Turns a refusal into the error kind the host acts on. */
    async function refused(res: Response, batch: readonly DataPoint[]): Promise<Error> {
      const text = (await res.text().catch(() => '')).slice(0, 300);
      const what = `${res.status} ${res.statusText}${text ? `: ${text}` : ''}`;
      // No `[bifrost] [type:name]` prefix here: the host adds it, once.
      const opts = { code: `BIFROST_ERR___CODE___HTTP_${res.status}` };
      if (res.status === 401 || res.status === 403) return new AuthError(`${what} (check token)`, opts);
      if (res.status === 404) return new ConfigError(`${what} (no receiver at ${url.pathname})`, opts);
      if (res.status === 429 || res.status === 503) {
        const after = Number(res.headers.get('retry-after'));
        return new CapacityError(what, Number.isFinite(after) && after > 0 ? after * 1000 : undefined, opts);
      }
      if (res.status === 422) {
        // The receiver names the points it refused; it stored the others.
        let rejected: RejectedPoint[] = [];
        try {
          rejected = (JSON.parse(text) as { rejected?: RejectedPoint[] }).rejected ?? [];
        } catch {
          /* no list: the whole batch is refused */
        }
        if (!rejected.length) return new PayloadError(what, undefined, opts);
        const ids = new Set(rejected.map((r) => r.id));
        const accepted = batch.filter((p) => !ids.has(p.id)).map((p) => p.id);
        return new PartialWriteError(accepted, rejected, opts);
      }
      return new TransientError(what, opts);
    }

    return {
      async connect() {
        // Checks the receiver is there and the token is accepted.
        const res = await call('GET', undefined);
        if (!res.ok) throw await refused(res, []);
        await res.body?.cancel();
        open = true;
      },
      async write(batch, { signal }) {
        if (!open) throw new TransientError('not connected');
        // `priority` is the host's queue lane, not data: it stays off the wire.
        const res = await call('POST', JSON.stringify(batch.map(({ priority: _lane, ...point }) => point)), signal);
        if (!res.ok) throw await refused(res, batch);
        await res.body?.cancel();
      },
      async close() {
        open = false;
      },
      async healthCheck() {
        if (!open) return { ok: false, detail: 'closed' };
        const res = await call('GET', undefined).catch((err: Error) => err);
        if (res instanceof Error) return { ok: false, detail: res.message };
        await res.body?.cancel();
        return { ok: res.ok, detail: `${res.status}` };
      },
    };
  },
});
