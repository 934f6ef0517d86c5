import { randomBytes } from 'node:crypto';
import { binaryNotFound, findBinary } from './binaries.js';
import { httpReady } from './probes.js';
import { startProcessPeer, type ProcessPeer } from './process-peer.js';
import { UnsupportedFaultError, type FaultProxyFactory, type NetworkFault } from '../conformance/types.js';

/** Toxic kinds the client knows; attributes as in Toxiproxy's README. */
export type Toxic =
  /** Delay every chunk by `latency` ms (± `jitter`). */
  | { type: 'latency'; attributes: { latency: number; jitter?: number } }
  /** Limit throughput to `rate` KB/s. */
  | { type: 'bandwidth'; attributes: { rate: number } }
  /** Stop all data; close the connection after `timeout` ms (0: never, until removed). */
  | { type: 'timeout'; attributes: { timeout: number } }
  /** Reset connections (TCP RST) `timeout` ms after they open (0: at once). */
  | { type: 'reset_peer'; attributes: { timeout: number } }
  /** Delay the close of the socket by `delay` ms. */
  | { type: 'slow_close'; attributes: { delay: number } }
  /** Close the connection after `bytes` bytes went through. */
  | { type: 'limit_data'; attributes: { bytes: number } }
  /** Cut the data into packets of about `average_size` bytes (± `size_variation`), `delay` µs apart. */
  | { type: 'slicer'; attributes: { average_size: number; size_variation?: number; delay?: number } };

export interface ToxicOptions {
  /** Unique per proxy; default `<type>_<stream>`. */
  name?: string;
  /** `downstream` (server to client, default) or `upstream` (client to server). */
  stream?: 'upstream' | 'downstream';
  /** Fraction of connections affected, 0..1 (default 1). */
  toxicity?: number;
}

/** One proxy of a Toxiproxy server. */
export class ToxiproxyProxy {
  /** @internal created by {@link ToxiproxyClient.createProxy} */
  constructor(
    private readonly client: ToxiproxyClient,
    readonly name: string,
    /** Where clients connect: `127.0.0.1`. */
    readonly host: string,
    readonly port: number,
    readonly upstream: string,
  ) {}

  /** Adds a toxic; returns its name (for {@link removeToxic}). */
  async addToxic(toxic: Toxic, opts: ToxicOptions = {}): Promise<string> {
    const stream = opts.stream ?? 'downstream';
    const name = opts.name ?? `${toxic.type}_${stream}`;
    await this.client.call('POST', `/proxies/${this.name}/toxics`, {
      name,
      type: toxic.type,
      stream,
      toxicity: opts.toxicity ?? 1,
      attributes: toxic.attributes,
    });
    return name;
  }

  async removeToxic(name: string): Promise<void> {
    await this.client.call('DELETE', `/proxies/${this.name}/toxics/${encodeURIComponent(name)}`);
  }

  /** Names of the toxics on this proxy. */
  async toxics(): Promise<string[]> {
    const list = (await this.client.call('GET', `/proxies/${this.name}/toxics`)) as Array<{ name: string }>;
    return list.map((t) => t.name);
  }

  /** Closes the listener and every open connection (the peer looks down) until {@link enable}. */
  async disable(): Promise<void> {
    await this.client.call('POST', `/proxies/${this.name}`, { enabled: false });
  }

  async enable(): Promise<void> {
    await this.client.call('POST', `/proxies/${this.name}`, { enabled: true });
  }

  /** Deletes the proxy (closing its connections). */
  async delete(): Promise<void> {
    await this.client.call('DELETE', `/proxies/${this.name}`);
  }
}

/** A typed client of Toxiproxy's HTTP API. */
export class ToxiproxyClient {
  /** @param apiUrl e.g. `http://127.0.0.1:8474` */
  constructor(readonly apiUrl: string) {}

  /** @internal one API call; throws with the server's message on a non-2xx answer. */
  async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`[testkit] toxiproxy ${method} ${path}: HTTP ${res.status} ${text.trim()}`);
    return text ? JSON.parse(text) : undefined;
  }

  /**
   * Creates a proxy listening on a free port of 127.0.0.1 (unless `listen` is given) and forwarding
   * to `upstream` (`host:port`).
   */
  async createProxy(opts: { upstream: string; name?: string; listen?: string }): Promise<ToxiproxyProxy> {
    const name = opts.name ?? `proxy_${randomBytes(4).toString('hex')}`;
    const created = (await this.call('POST', '/proxies', {
      name,
      listen: opts.listen ?? '127.0.0.1:0',
      upstream: opts.upstream,
      enabled: true,
    })) as { listen: string };
    const at = created.listen.lastIndexOf(':');
    return new ToxiproxyProxy(
      this,
      name,
      created.listen.slice(0, at),
      Number(created.listen.slice(at + 1)),
      opts.upstream,
    );
  }

  /** Removes every toxic and re-enables every proxy. */
  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }
}

/** A running Toxiproxy server (API on a loopback port) with its client methods. */
export interface ToxiproxyPeer extends ProcessPeer<'api'> {
  readonly apiUrl: string;
  readonly client: ToxiproxyClient;
}

/** The Toxiproxy server built by `scripts/peers/toxiproxy.sh` (`$BIFROST_TOXIPROXY` overrides). */
export function toxiproxyBinary(): string | undefined {
  return findBinary('toxiproxy-server', { env: 'BIFROST_TOXIPROXY' });
}

/**
 * Starts a Toxiproxy server on 127.0.0.1. Put it between a connector and its peer with
 * `client.createProxy({ upstream })`, or hand {@link toxiproxyFaultProxy} to the conformance suite.
 *
 * @example
 * const toxi = await startToxiproxy();
 * const proxy = await toxi.client.createProxy({ upstream: `127.0.0.1:${broker.ports.mqtt}` });
 * await proxy.addToxic({ type: 'latency', attributes: { latency: 500 } });
 * // connect to proxy.host:proxy.port ...
 */
export async function startToxiproxy(): Promise<ToxiproxyPeer> {
  const bin = toxiproxyBinary();
  if (!bin) throw binaryNotFound('toxiproxy-server');
  const peer = await startProcessPeer<'api'>({
    name: 'toxiproxy',
    command: bin,
    ports: ['api'],
    args: ({ host, ports }) => ['-host', host, '-port', String(ports.api)],
    ready: ({ host, ports }) => httpReady(`http://${host}:${ports.api}/version`),
  });
  const apiUrl = `http://${peer.host}:${peer.ports.api}`;
  return Object.assign(peer, { apiUrl, client: new ToxiproxyClient(apiUrl) });
}

/** The toxics (name, stream) that make up one conformance-suite fault. */
function toxicsFor(fault: NetworkFault): Array<[Toxic, ToxicOptions]> {
  const both = (toxic: Toxic): Array<[Toxic, ToxicOptions]> => [
    [toxic, { stream: 'upstream' }],
    [toxic, { stream: 'downstream' }],
  ];
  switch (fault.type) {
    case 'latency':
      return both({ type: 'latency', attributes: { latency: fault.latencyMs } });
    case 'bandwidth':
      return both({ type: 'bandwidth', attributes: { rate: fault.kbPerSecond } });
    case 'timeout':
      return both({ type: 'timeout', attributes: { timeout: fault.timeoutMs } });
    case 'reset_peer':
      return [[{ type: 'reset_peer', attributes: { timeout: fault.timeoutMs } }, { stream: 'upstream' }]];
    case 'cut_on_marker':
      throw new UnsupportedFaultError(fault.type, 'Toxiproxy');
  }
}

let shared: Promise<ToxiproxyPeer> | undefined;

/**
 * One Toxiproxy server for the whole test process, started on first call (and again if it was
 * disposed or died). Nobody needs to dispose it: the harness kills it and removes its directory
 * when the process exits.
 */
export async function sharedToxiproxy(): Promise<ToxiproxyPeer> {
  const current = shared;
  if (current) {
    const peer = await current.catch(() => undefined);
    if (peer?.running) return peer;
    if (shared === current) shared = undefined;
  }
  shared ??= startToxiproxy();
  return shared;
}

/**
 * Adapts a Toxiproxy server to the conformance suite's `faultProxy`: one proxy per call in front
 * of the given upstream, faults as toxics, removed with the proxy. Without an argument it uses
 * {@link sharedToxiproxy}, started only when a network scenario first runs.
 *
 * `options.listen` fixes where each proxy listens (default a free port of 127.0.0.1), for peers
 * whose clients must reach a known address, such as a Kafka listener advertising the proxy's.
 *
 * @example
 * const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);
 * describeConnector({ ..., address: (p) => ({ host: '127.0.0.1', port: p.ports.mqtt }),
 *   ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }) });
 * // Kafka: toxiproxyFaultProxy(undefined, { listen: () => broker.proxied!.advertised })
 */
export function toxiproxyFaultProxy(
  server?: ToxiproxyPeer | (() => ToxiproxyPeer),
  options: { listen?: (upstream: { host: string; port: number }) => { host: string; port: number } } = {},
): FaultProxyFactory {
  return async (upstream) => {
    const toxi = server === undefined ? await sharedToxiproxy() : typeof server === 'function' ? server() : server;
    const at = options.listen?.(upstream);
    const proxy = await toxi.client.createProxy({
      upstream: `${upstream.host}:${upstream.port}`,
      ...(at && { listen: `${at.host}:${at.port}` }),
    });
    return {
      listen: { host: proxy.host, port: proxy.port },
      async inject(fault) {
        const names: string[] = [];
        for (const [toxic, opts] of toxicsFor(fault)) names.push(await proxy.addToxic(toxic, opts));
        return async () => {
          for (const name of names) await proxy.removeToxic(name);
        };
      },
      close: () => proxy.delete(),
    };
  };
}
