import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import aedes from 'aedes';

/** A running in-process MQTT broker (aedes) for the embedded default. */
export interface EmbeddedBroker {
  /** `mqtt://host:port` clients connect to. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts an aedes MQTT broker (3.1.1) on `host:port` (port 0 picks a free port). It keeps no
 * state across restarts: it is a demo and test target, not a production broker.
 */
export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  server.listen(port, host);
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([err]) => {
        throw err;
      }),
    ]);
  } catch (err) {
    await new Promise<void>((res) => broker.close(() => res()));
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `[bifrost] embedded_broker: ${host}:${port} is already in use (another MQTT broker?); set embedded_broker.port to a free port (0 picks one) or embedded_broker.enabled: false and point the connector at that broker`,
      );
    }
    throw err;
  }
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    port: actual,
    async close() {
      await new Promise<void>((res) => broker.close(() => res()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
