export { issueCertificate, newPrivateKey, type CertificateRequest, type PemPair } from './certificates.js';
export {
  createTlsFixture,
  type CertFiles,
  type ClientTlsKind,
  type ServerTlsPem,
  type TlsFixture,
  type TlsFixtureOptions,
} from './fixture.js';
