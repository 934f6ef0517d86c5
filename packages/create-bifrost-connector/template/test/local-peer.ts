import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Collector, ReceivedPoint } from '@bifrost/connector-testkit';

/**
 * A stand-in for the real receiver, for the conformance suite: an HTTP server on 127.0.0.1 that
 * stores the points it is sent (acknowledging with 200 only once stored), refuses a wrong token
 * (401) and points whose value is larger than 64 KiB (422, naming them), and can be stopped,
 * started again on the same port, restarted and killed. Replace it with your platform's server
 * when one runs locally (or a testkit peer: startMosquitto, startPostgres, ...).
 */
export interface LocalPeer {
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** Every point received, by id (kept across stop/start/kill: what was acknowledged survives). */
  readonly received: Map<string, ReceivedPoint>;
  collector(): Promise<Collector>;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Drops every connection at once, mid-request, and stops listening (a crash). */
  kill(): Promise<void>;
  dispose(): Promise<void>;
}

const MAX_VALUE_BYTES = 64 * 1024;

export async function startLocalPeer(opts: { token?: string; path?: string } = {}): Promise<LocalPeer> {
  const token = opts.token ?? 'local-token';
  const path = opts.path ?? '/points';
  const received = new Map<string, ReceivedPoint>();
  let server: Server | undefined;
  let port = 0;

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (new URL(req.url ?? '/', 'http://x').pathname !== path) return void res.writeHead(404).end('no such path');
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end('bad token');
    if (req.method === 'GET') return void res.writeHead(200).end();
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let batch: ReceivedPoint[];
      try {
        batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedPoint[];
      } catch {
        return void res.writeHead(400).end('not JSON');
      }
      const rejected: { id: string; reason: string }[] = [];
      for (const p of batch) {
        const size = Buffer.byteLength(JSON.stringify(p.value ?? null));
        if (size > MAX_VALUE_BYTES)
          rejected.push({ id: p.id, reason: `value of ${size} bytes exceeds ${MAX_VALUE_BYTES}` });
        else if (!received.has(p.id)) received.set(p.id, p);
      }
      if (rejected.length)
        return void res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ rejected }));
      res.writeHead(200).end();
    });
  }

  async function start(): Promise<void> {
    if (server) return;
    const s = createServer(handle);
    s.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  }

  async function stop(graceful: boolean): Promise<void> {
    const s = server;
    if (!s) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    if (graceful) s.closeIdleConnections();
    else s.closeAllConnections();
    setTimeout(() => s.closeAllConnections(), graceful ? 2000 : 0).unref();
    await closed;
  }

  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    token,
    received,
    async collector(): Promise<Collector> {
      return {
        async waitFor(ids, timeoutMs) {
          const deadline = Date.now() + timeoutMs;
          while (Date.now() < deadline && !ids.every((id) => received.has(id)))
            await new Promise((r) => setTimeout(r, 20));
          const out = new Map<string, ReceivedPoint>();
          for (const id of ids) {
            const p = received.get(id);
            if (p) out.set(id, p);
          }
          return out;
        },
        async close() {},
      };
    },
    stop: () => stop(true),
    start,
    async restart() {
      await stop(true);
      await start();
    },
    kill: () => stop(false),
    dispose: () => stop(false),
  };
}
