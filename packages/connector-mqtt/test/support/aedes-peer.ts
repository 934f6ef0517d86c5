import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import aedes from 'aedes';

/** An in-process aedes broker on 127.0.0.1 that can be stopped and started again on the same port (sessions kept in memory). */
export interface AedesPeer {
  readonly url: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startAedes(): Promise<AedesPeer> {
  const username = 'bifrost';
  const password = 'conformance';
  const broker = aedes.createBroker({
    authenticate: (_client, user, pass, done) => {
      const ok = user === username && pass?.toString() === password;
      done(ok ? null : Object.assign(new Error('bad user name or password'), { returnCode: 4 }), ok);
    },
  });
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve, reject) => {
    const s = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      port = (s.address() as AddressInfo).port;
      server = s;
      resolve();
    });
  });
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();
  return {
    get url() { return `mqtt://127.0.0.1:${port}`; },
    get port() { return port; },
    username,
    password,
    stop,
    start: listen,
    async restart() { await stop(); await listen(); },
    async dispose() {
      await stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
