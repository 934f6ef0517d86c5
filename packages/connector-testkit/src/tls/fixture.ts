import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsMaterial } from '@bifrost/core';
import { issueCertificate, newPrivateKey, type PemPair } from './certificates.js';

/** A certificate and key as PEM strings and as files in the fixture's directory. */
export interface CertFiles extends PemPair {
  certFile: string;
  keyFile: string;
}

/** PEM strings a server peer needs for its TLS listener (the shape every testkit peer takes). */
export interface ServerTlsPem {
  /** CA the server trusts for client certificates (mTLS). */
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Which client-side TLS setup to build; matches the conformance suite's connection variants. */
export type ClientTlsKind = 'tls' | 'mtls' | 'untrusted-ca' | 'expired-cert' | 'foreign-cert';

/**
 * The TLS material of one test run: every certificate is fresh, RSA 2048 / SHA-256, keys are
 * unencrypted PKCS#8. Files live in `dir` (removed by `dispose()`).
 */
export interface TlsFixture {
  readonly dir: string;
  /** The run's CA: it signed `server`, `client` and `expiredClient`. */
  readonly ca: CertFiles;
  /** Server certificate, SANs: `localhost`, `127.0.0.1`, `::1` (plus extra `hosts`), serverAuth. */
  readonly server: CertFiles;
  /** Client certificate (CN `bifrost-client`, clientAuth) for mTLS. */
  readonly client: CertFiles;
  /** Client certificate signed by the CA that expired yesterday. */
  readonly expiredClient: CertFiles;
  /** An unrelated CA, for "wrong CA" tests. */
  readonly otherCa: CertFiles;
  /** Client certificate signed by `otherCa`: well-formed, but not trusted by the servers. */
  readonly foreignClient: CertFiles;
  /** Server certificate signed by `otherCa`, same SANs as `server`. */
  readonly foreignServer: CertFiles;
  /** What a peer's TLS listener needs (CA, server certificate and key). */
  serverTls(): ServerTlsPem;
  /**
   * `ctx.tls` for a connector: `tls` trusts the CA; `mtls` adds the client certificate;
   * `untrusted-ca` trusts `otherCa` only; `expired-cert` presents `expiredClient`;
   * `foreign-cert` presents `foreignClient`. `servername` is `localhost`.
   */
  clientTls(kind: ClientTlsKind): TlsMaterial;
  /** Removes the files. Idempotent. */
  dispose(): void;
}

export interface TlsFixtureOptions {
  /** Extra SANs for the server certificate (IP addresses are recognised). */
  hosts?: readonly string[];
  /** Common name of the client certificates (default `bifrost-client`); some brokers map it to a user. */
  clientName?: string;
}

const DAY = 86_400_000;
const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:]*)$/i;

/**
 * Generates a run's CA, server and client certificates, an expired client certificate, and a
 * second CA with its own client and server certificates, as PEM strings and files.
 *
 * @example
 * const tls = createTlsFixture();
 * const broker = await startMosquitto({ tls: tls.serverTls() });
 * const ctxTls = tls.clientTls('mtls'); // -> connector's ctx.tls
 */
export function createTlsFixture(opts: TlsFixtureOptions = {}): TlsFixture {
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-tls-'));
  const write = (name: string, pair: PemPair): CertFiles => {
    const certFile = join(dir, `${name}.pem`);
    const keyFile = join(dir, `${name}.key`);
    writeFileSync(certFile, pair.cert);
    writeFileSync(keyFile, pair.key, { mode: 0o600 });
    return { ...pair, certFile, keyFile };
  };
  const extra = opts.hosts ?? [];
  const sans = {
    dnsNames: ['localhost', ...extra.filter((h) => !IP.test(h))],
    ipAddresses: ['127.0.0.1', '::1', ...extra.filter((h) => IP.test(h))],
  };
  const clientName = opts.clientName ?? 'bifrost-client';
  // Certificates of one role share a key: what the negative cases test is the chain and the dates,
  // and key generation is most of the fixture's cost.
  const serverKey = newPrivateKey();
  const clientKey = newPrivateKey();
  const ca = write('ca', issueCertificate({ commonName: 'Bifrost test CA', ca: true }));
  const otherCa = write('other-ca', issueCertificate({ commonName: 'Bifrost other CA', ca: true }));
  const fixture: TlsFixture = {
    dir,
    ca,
    otherCa,
    server: write(
      'server',
      issueCertificate({ commonName: 'localhost', issuer: ca, key: serverKey, usage: ['serverAuth'], ...sans }),
    ),
    client: write(
      'client',
      issueCertificate({ commonName: clientName, issuer: ca, key: clientKey, usage: ['clientAuth'] }),
    ),
    expiredClient: write(
      'expired-client',
      issueCertificate({
        commonName: clientName,
        issuer: ca,
        key: clientKey,
        usage: ['clientAuth'],
        notBefore: new Date(Date.now() - 3 * DAY),
        notAfter: new Date(Date.now() - DAY),
      }),
    ),
    foreignClient: write(
      'foreign-client',
      issueCertificate({ commonName: clientName, issuer: otherCa, key: clientKey, usage: ['clientAuth'] }),
    ),
    foreignServer: write(
      'foreign-server',
      issueCertificate({ commonName: 'localhost', issuer: otherCa, key: serverKey, usage: ['serverAuth'], ...sans }),
    ),
    serverTls: () => ({ caPem: ca.cert, certPem: fixture.server.cert, keyPem: fixture.server.key }),
    clientTls(kind) {
      const base = { servername: 'localhost', rejectUnauthorized: true };
      switch (kind) {
        case 'tls':
          return { ...base, ca: ca.cert };
        case 'mtls':
          return { ...base, ca: ca.cert, cert: fixture.client.cert, key: fixture.client.key };
        case 'untrusted-ca':
          return { ...base, ca: otherCa.cert };
        case 'expired-cert':
          return { ...base, ca: ca.cert, cert: fixture.expiredClient.cert, key: fixture.expiredClient.key };
        case 'foreign-cert':
          return { ...base, ca: ca.cert, cert: fixture.foreignClient.cert, key: fixture.foreignClient.key };
      }
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
  return fixture;
}
