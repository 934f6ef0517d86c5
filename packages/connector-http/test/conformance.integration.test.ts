import { describe } from 'vitest';
import {
  createTlsFixture,
  describeConnector,
  requirePeer,
  startHttpReceiver,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type Collector,
  type ConnectionVariant,
  type ConnectorSetup,
  type ConnectorUnderTest,
  type HttpReceiverPeer,
  type ReceivedPoint,
  type TlsFixture,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import http from '../src/index.js';

const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

const TOKEN = 'conformance-token';
/** The receiver answers 413 above this (decoded body bytes); batches of 1000 suite points stay well under it. */
const MAX_BODY = 512 * 1024;

interface Peers {
  rx: HttpReceiverPeer;
  tls: TlsFixture;
}

/** Reads the receiver's accepted points incrementally from the moment it is opened. */
async function collector({ rx }: Peers): Promise<Collector> {
  let cursor = (await rx.requests()).reduce((m, r) => Math.max(m, r.seq), 0);
  const seen = new Map<string, ReceivedPoint>();
  return {
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // The receiver is down during the outage scenarios: read what can be read.
        const fresh = await rx.requests(cursor).catch(() => []);
        for (const r of fresh) {
          cursor = Math.max(cursor, r.seq);
          if (r.status < 200 || r.status >= 300) continue;
          r.points.forEach((p, i) => {
            if (r.rejected.includes(i) || typeof p.id !== 'string' || seen.has(p.id)) return;
            seen.set(p.id, {
              id: p.id,
              value: p.value,
              deviceId: p.deviceId as string,
              tagName: p.tagName as string,
              quality: p.quality as string,
              timestamp: p.timestamp as number,
            });
          });
        }
        const found = new Map(ids.flatMap((id) => (seen.has(id) ? [[id, seen.get(id)!] as const] : [])));
        if (found.size === ids.length || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close() {},
  };
}

function config({ rx, tls }: Peers, variant: ConnectionVariant): ConnectorSetup | undefined {
  const base = { bearer_token: TOKEN };
  switch (variant.kind) {
    case 'plain':
      return { config: { ...base, endpoint: rx.url } };
    case 'bad-credentials':
      return { config: { ...base, endpoint: rx.url, bearer_token: `${TOKEN}-wrong` } };
    case 'proxied':
      return { config: { ...base, endpoint: `http://${variant.host}:${variant.port}/ingest` } };
    case 'tls':
      return { config: { ...base, endpoint: rx.httpsUrl }, tls: tls.clientTls('tls') };
    case 'untrusted-ca':
      return { config: { ...base, endpoint: rx.httpsUrl }, tls: tls.clientTls('untrusted-ca') };
    case 'mtls':
      return { config: { ...base, endpoint: rx.mtlsUrl }, tls: tls.clientTls('mtls') };
    case 'expired-cert':
      return { config: { ...base, endpoint: rx.mtlsUrl }, tls: tls.clientTls('expired-cert') };
  }
}

const target = {
  name: 'http on the testkit http-receiver',
  plugin: http,
  async peer() {
    const tls = createTlsFixture();
    const rx = await startHttpReceiver({ tls: tls.serverTls(), bearerToken: TOKEN, maxBodyBytes: MAX_BODY });
    return { rx, tls };
  },
  async dispose({ rx, tls }) {
    await rx.dispose();
    tls.dispose();
  },
  config,
  readBack: collector,
  address: ({ rx }) => ({ host: rx.host, port: rx.ports.http }),
  ...(toxiproxy.available && { faultProxy: toxiproxyFaultProxy() }),
  restart: ({ rx }) => rx.restart(),
  stop: ({ rx }) => rx.stop(),
  start: ({ rx }) => rx.start(),
  // SIGKILL: a request the receiver answered was appended to its log first; the rest is redelivered.
  kill: async ({ rx }) => {
    await rx.kill();
    await rx.start();
  },
  // A point whose body alone exceeds the receiver's limit: 413 even when sent alone, always.
  poison: (): DataPoint => ({
    id: newPointId(),
    deviceId: 'poison',
    tagName: 'big',
    value: 'x'.repeat(MAX_BODY + 1024),
    quality: 'GOOD',
    timestamp: Date.now(),
  }),
} satisfies ConnectorUnderTest<Peers>;

describe('http', () => {
  describeConnector(target);
});
