import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** A PEM certificate and its unencrypted PKCS#8 private key (`BEGIN PRIVATE KEY`, which Kafka also accepts). */
export interface PemPair {
  cert: string;
  key: string;
}

/** What to put in one certificate. */
export interface CertificateRequest {
  commonName: string;
  /** Signing CA; omit for a self-signed CA certificate. */
  issuer?: PemPair;
  /** Makes a CA (basicConstraints CA:true, keyCertSign). */
  ca?: boolean;
  /** Extended key usages. */
  usage?: ReadonlyArray<'serverAuth' | 'clientAuth'>;
  /** Subject alternative names: DNS names and IP addresses (v4 or v6). */
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** PKCS#8 PEM private key to certify (several certificates may share one); default a fresh RSA 2048 key. */
  key?: string;
  /** Validity window; default from one hour ago to 30 days ahead. */
  notBefore?: Date;
  notAfter?: Date;
}

const HOUR = 3_600_000;

/** A fresh RSA 2048 private key, PKCS#8 PEM (native: node-forge's pure-JS RSA takes seconds per key). */
export function newPrivateKey(): string {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
}

/** Issues one certificate (RSA 2048, SHA-256) for the test run. */
export function issueCertificate(req: CertificateRequest): PemPair {
  const key = req.key ?? newPrivateKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString());
  // Positive serial: a leading 0x00..0x7f byte keeps the DER INTEGER non-negative.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = req.notBefore ?? new Date(Date.now() - HOUR);
  cert.validity.notAfter = req.notAfter ?? new Date(Date.now() + 30 * 24 * HOUR);
  const subject = [
    { name: 'commonName', value: req.commonName },
    { name: 'organizationName', value: 'Bifrost test run' },
  ];
  cert.setSubject(subject);
  const issuerCert = req.issuer ? forge.pki.certificateFromPem(req.issuer.cert) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const altNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: !!req.ca, critical: true },
    req.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (issuerCert)
    extensions.push({
      name: 'authorityKeyIdentifier',
      keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes(),
    });
  if (req.usage?.length)
    extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(req.usage.map((u) => [u, true])) });
  if (altNames.length) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  const signingKey = forge.pki.privateKeyFromPem(req.issuer?.key ?? key);
  cert.sign(signingKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}
