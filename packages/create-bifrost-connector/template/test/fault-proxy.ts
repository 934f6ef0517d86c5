import { createServer, connect, type Server, type Socket } from 'node:net';
import type { FaultProxy, FaultProxyFactory, NetworkFault } from '@bifrost/connector-testkit';

/**
 * A TCP fault proxy for the conformance suite's network scenarios, on node:net (no Toxiproxy
 * needed): the connector connects to `listen`, the proxy forwards to the peer and applies the
 * injected faults to data in both directions.
 *
 * - latency: every chunk is delayed by `latencyMs`
 * - bandwidth: throughput capped at `kbPerSecond` per direction and connection
 * - timeout: data stops flowing; connections are closed after `timeoutMs` (0: held open)
 * - reset_peer: data is dropped and the connection carrying it reset (RST) after `timeoutMs`
 *
 * With Toxiproxy installed, `toxiproxyFaultProxy()` from the testkit does the same.
 */
export const localFaultProxy: FaultProxyFactory = async (upstream) => {
  const faults = new Set<NetworkFault>();
  const pairs = new Set<[Socket, Socket]>();

  function pump(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      from.pause();
      chain = chain
        .then(async () => {
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
    pump(client, peer);
    pump(peer, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const proxy: FaultProxy = {
    listen: { host: '127.0.0.1', port },
    async inject(fault) {
      faults.add(fault);
      applyToConnections(fault);
      return async () => {
        faults.delete(fault);
      };
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
};

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
