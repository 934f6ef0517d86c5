import { connect, createServer, type Server, type Socket } from 'node:net';
import type { FaultProxy, FaultProxyFactory, NetworkFault, PeerAddress } from '../conformance/types.js';
import { toxiproxyBinary, toxiproxyFaultProxy } from './toxiproxy.js';

/**
 * A fault proxy in front of any TCP peer (yours included), for the conformance suite's network
 * scenarios or your own tests: the connector connects to `proxy.listen`, the proxy forwards to
 * `upstream`, and `inject(fault)` degrades the link until the returned function removes it.
 *
 * `engine: 'auto'` (default) uses Toxiproxy when its binary is installed (`toxiproxyBinary()`:
 * `$BIFROST_TOXIPROXY`, PATH, `$BIFROST_PEERS_DIR/bin`), else a proxy on `node:net` in this process.
 * Fault semantics, the same for both engines (Toxiproxy's toxics):
 *
 * - `latency { latencyMs }`: every chunk is delayed by `latencyMs`, both directions
 * - `bandwidth { kbPerSecond }`: throughput capped, per direction and connection
 * - `timeout { timeoutMs }`: no data gets through; connections are closed after `timeoutMs`
 *   (0: held open until the fault is removed)
 * - `reset_peer { timeoutMs }`: data is dropped and the connection carrying it reset (TCP RST)
 *   after `timeoutMs`
 * - `cut_on_marker { marker }` (node engine only; Toxiproxy rejects it with `UnsupportedFaultError`):
 *   a client-to-server chunk containing `marker` (also across chunk boundaries) is dropped and its
 *   connection reset, every time: a peer refusing one point by dropping the connection after it
 *
 * `listen` (or `BIFROST_FAULT_PROXY_PORT`) fixes where the proxy listens, for peers whose clients
 * must reach a known address (a Kafka listener advertising the proxy's).
 *
 * @example
 * const proxy = await startFaultProxy({ upstream: { host: '127.0.0.1', port: peer.port } });
 * const heal = await proxy.inject({ type: 'latency', latencyMs: 500 });
 * ... await heal(); await proxy.close();
 * // for the suite: describeConnector({ ..., faultProxy: faultProxyFactory() })
 */
export async function startFaultProxy(opts: {
  upstream: PeerAddress;
  /** Where to listen (default 127.0.0.1 on a free port; `BIFROST_FAULT_PROXY_PORT` pins the port). */
  listen?: PeerAddress;
  engine?: 'auto' | 'toxiproxy' | 'node';
}): Promise<FaultProxy & { engine: 'toxiproxy' | 'node' }> {
  const envPort = Number(process.env.BIFROST_FAULT_PROXY_PORT);
  const listen =
    opts.listen ?? (Number.isInteger(envPort) && envPort > 0 ? { host: '127.0.0.1', port: envPort } : undefined);
  const engine = opts.engine ?? 'auto';
  if (engine === 'toxiproxy' || (engine === 'auto' && toxiproxyBinary())) {
    const proxy = await toxiproxyFaultProxy(undefined, listen ? { listen: () => listen } : {})(opts.upstream);
    return Object.assign(proxy, { engine: 'toxiproxy' as const });
  }
  return Object.assign(await nodeFaultProxy(opts.upstream, listen), { engine: 'node' as const });
}

/** {@link startFaultProxy} as the conformance suite's `faultProxy`. */
export function faultProxyFactory(opts: { engine?: 'auto' | 'toxiproxy' | 'node' } = {}): FaultProxyFactory {
  return (upstream) => startFaultProxy({ upstream, ...opts });
}

/** Longest `cut_on_marker` marker (the bytes kept per connection to find one split across chunks). */
const MAX_MARKER_BYTES = 256;

async function nodeFaultProxy(upstream: PeerAddress, listen?: PeerAddress): Promise<FaultProxy> {
  const faults = new Set<NetworkFault>();
  const pairs = new Set<[Socket, Socket]>();

  function pump(from: Socket, to: Socket, upstream: boolean): void {
    let chain = Promise.resolve();
    /** The end of the bytes seen so far, for a marker split across chunks. */
    let tail = Buffer.alloc(0);
    from.on('data', (chunk: Buffer) => {
      from.pause();
      chain = chain
        .then(async () => {
          if (upstream && markerIn(tail, chunk)) {
            from.resetAndDestroy();
            to.resetAndDestroy();
            return;
          }
          if (upstream) tail = Buffer.concat([tail, chunk]).subarray(-MAX_MARKER_BYTES);
          for (const f of faults) {
            if (f.type === 'latency') await sleep(f.latencyMs);
            if (f.type === 'bandwidth') await sleep((chunk.length / (f.kbPerSecond * 1024)) * 1000);
            if (f.type === 'timeout') return; // swallowed
            if (f.type === 'reset_peer') {
              // Toxiproxy's reset_peer: the data is not forwarded; the connection is reset after timeoutMs.
              setTimeout(() => {
                from.resetAndDestroy();
                to.resetAndDestroy();
              }, f.timeoutMs).unref();
              return;
            }
          }
          if (!to.destroyed) to.write(chunk);
        })
        .finally(() => from.resume());
    });
    from.on('end', () => void chain.then(() => to.end()));
    from.on('error', () => to.destroy());
    from.on('close', () => void chain.then(() => to.destroy()));
  }

  /** Whether a marker fault is on and its marker is in `chunk` or starts in `tail` and ends in it. */
  function markerIn(tail: Buffer, chunk: Buffer): boolean {
    for (const f of faults) {
      if (f.type !== 'cut_on_marker') continue;
      const marker = Buffer.from(f.marker);
      if (chunk.includes(marker) || Buffer.concat([tail.subarray(-(marker.length - 1)), chunk]).includes(marker))
        return true;
    }
    return false;
  }

  function applyToConnections(f: NetworkFault): void {
    if (f.type === 'timeout' && f.timeoutMs > 0) {
      setTimeout(() => {
        if (!faults.has(f)) return;
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
      }, f.timeoutMs).unref();
    }
  }

  const server: Server = createServer((client) => {
    const peer = connect(upstream.port, upstream.host);
    const pair: [Socket, Socket] = [client, peer];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    pump(client, peer, true);
    pump(peer, client, false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen?.port ?? 0, listen?.host ?? '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;

  const proxy: FaultProxy = {
    listen: { host: listen?.host ?? '127.0.0.1', port },
    inject(fault) {
      if (fault.type === 'cut_on_marker' && (!fault.marker || Buffer.byteLength(fault.marker) > MAX_MARKER_BYTES))
        return Promise.reject(new RangeError(`[testkit] a cut_on_marker marker has 1 to ${MAX_MARKER_BYTES} bytes`));
      faults.add(fault);
      applyToConnections(fault);
      return Promise.resolve(() => {
        faults.delete(fault);
        return Promise.resolve();
      });
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
