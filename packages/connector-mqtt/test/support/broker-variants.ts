import type { ConnectionVariant, ConnectorSetup, TlsFixture } from '@bifrost/connector-testkit';

/** The addresses a test MQTT broker offers: plain, TLS, and TLS that requires a client certificate (when started with TLS). */
export interface BrokerUrls {
  url: string;
  tlsUrl?: string | undefined;
  mtlsUrl?: string | undefined;
}

/**
 * The connector setup of each conformance connection variant against a test broker: `base` is the
 * config every variant shares (credentials, topic prefix, protocol), the variant picks the address
 * and the client TLS files.
 */
export function brokerVariant(
  p: BrokerUrls,
  v: ConnectionVariant,
  base: Record<string, unknown>,
  tls: TlsFixture,
): ConnectorSetup | undefined {
  if (!p.tlsUrl || !p.mtlsUrl)
    throw new Error('[test] the broker was started without TLS; the conformance suite needs its TLS listeners');
  switch (v.kind) {
    case 'plain':
      return { config: { ...base, endpoint: p.url } };
    case 'bad-credentials':
      return { config: { ...base, endpoint: p.url, password: 'wrong' } };
    case 'proxied':
      return { config: { ...base, endpoint: `mqtt://${v.host}:${v.port}` } };
    case 'tls':
      return { config: { ...base, endpoint: p.tlsUrl }, tls: tls.clientTls('tls') };
    case 'mtls':
      return { config: { ...base, endpoint: p.mtlsUrl }, tls: tls.clientTls('mtls') };
    case 'untrusted-ca':
      return { config: { ...base, endpoint: p.tlsUrl }, tls: tls.clientTls('untrusted-ca') };
    case 'expired-cert':
      return { config: { ...base, endpoint: p.mtlsUrl }, tls: tls.clientTls('expired-cert') };
  }
}
