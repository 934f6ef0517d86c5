import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ServerTlsPem } from '@bifrost/connector-testkit';
import aedes from 'aedes';

/**
 * An in-process aedes broker on 127.0.0.1: a plain listener and, with TLS material, a TLS and an
 * mTLS (client certificate required) listener. `stop` / `start` close and reopen the listeners on
 * the same ports; sessions and queued messages stay in the broker's memory.
 */
export interface AedesPeer {
  readonly url: string;
  readonly port: number;
  readonly tlsUrl: string | undefined;
  readonly mtlsUrl: string | undefined;
  readonly username: string;
  readonly password: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

type Kind = 'plain' | 'tls' | 'mtls';

export async function startAedes(tls?: ServerTlsPem): Promise<AedesPeer> {
  const username = 'bifrost';
  const password = 'conformance';
  const broker = aedes.createBroker({
    authenticate: (_client, user, pass, done) => {
      const ok = user === username && pass?.toString() === password;
      done(ok ? null : Object.assign(new Error('bad user name or password'), { returnCode: 4 }), ok);
    },
  });
  const sockets = new Set<Socket>();
  const servers = new Map<Kind, Server>();
  const ports: Record<Kind, number> = { plain: 0, tls: 0, mtls: 0 };
  const kinds: Kind[] = tls ? ['plain', 'tls', 'mtls'] : ['plain'];

  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  };
  const make = (kind: Kind): Server => {
    if (kind === 'plain' || !tls) return createServer(accept);
    return createTlsServer(
      {
        ca: tls.caPem,
        cert: tls.certPem,
        key: tls.keyPem,
        requestCert: kind === 'mtls',
        rejectUnauthorized: kind === 'mtls',
      },
      accept,
    );
  };
  const listen = async () => {
    for (const kind of kinds) {
      if (servers.has(kind)) continue;
      const server = make(kind);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(ports[kind], '127.0.0.1', () => resolve());
      });
      ports[kind] = (server.address() as AddressInfo).port;
      servers.set(kind, server);
    }
  };
  const stop = async () => {
    const closing = [...servers.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    servers.clear();
    for (const socket of sockets) socket.destroy();
    await Promise.all(closing);
  };
  await listen();
  return {
    get url() {
      return `mqtt://127.0.0.1:${ports.plain}`;
    },
    get port() {
      return ports.plain;
    },
    get tlsUrl() {
      return tls ? `mqtts://localhost:${ports.tls}` : undefined;
    },
    get mtlsUrl() {
      return tls ? `mqtts://localhost:${ports.mtls}` : undefined;
    },
    username,
    password,
    stop,
    start: listen,
    async restart() {
      await stop();
      await listen();
    },
    async dispose() {
      await stop();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
