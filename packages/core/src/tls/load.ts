import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { TlsMaterial } from './types.js';

/** TLS settings as users write them in a connector's config. */
export interface TlsFileOptions {
  /** CA bundle (PEM, one or more certificates) that verifies the server; system CAs when unset. */
  ca_file?: string;
  /** Client certificate (PEM) for mutual TLS; may be followed by its intermediate certificates. */
  cert_file?: string;
  /** Private key (PEM) of `cert_file`, possibly encrypted. */
  key_file?: string;
  /** Passphrase of an encrypted `key_file` (secret). */
  passphrase?: string;
  /** Server name to verify (SNI) when it differs from the endpoint host. */
  servername?: string;
  /** Skip server certificate verification (testing only). */
  insecure_skip_verify?: boolean;
  /**
   * Check that `cert_file` chains to a certificate in `ca_file` (default true). Set false when the
   * server trusts a client CA that is not in `ca_file` (AWS IoT device certificates, for example).
   */
  verify_client_chain?: boolean;
}

export interface LoadTlsOptions {
  /** Clock for the validity check (tests). */
  now?: number;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_CHAIN_DEPTH = 10;

const tlsError = (message: string, code: string, cause?: unknown): ConfigError =>
  new ConfigError(`[bifrost] TLS: ${message}`, { code, cause });

async function readPem(field: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw tlsError(`${field} ${path}: cannot read the file (${code})`, 'BIFROST_ERR_TLS_FILE_UNREADABLE', e);
  }
}

/** Parses every certificate of a PEM text; throws naming the file when there is none or one is damaged. */
export function parseCertificates(field: string, path: string | undefined, pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT_RE) ?? [];
  const where = path ? `${field} ${path}` : field;
  if (!blocks.length)
    throw tlsError(
      `${where}: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)`,
      'BIFROST_ERR_TLS_BAD_CERT',
    );
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw tlsError(
        `${where}: certificate #${i + 1} cannot be parsed (${(e as Error).message})`,
        'BIFROST_ERR_TLS_BAD_CERT',
        e,
      );
    }
  });
}

function parseKey(path: string, pem: string, passphrase: string | undefined): KeyObject {
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem);
  if (encrypted && !passphrase) {
    throw tlsError(
      `key_file ${path}: the key is encrypted; set its passphrase (key_passphrase)`,
      'BIFROST_ERR_TLS_KEY_PASSPHRASE',
    );
  }
  try {
    return createPrivateKey(passphrase ? { key: pem, format: 'pem', passphrase } : { key: pem, format: 'pem' });
  } catch (e) {
    if (encrypted)
      throw tlsError(
        `key_file ${path}: wrong passphrase (${(e as Error).message})`,
        'BIFROST_ERR_TLS_KEY_PASSPHRASE',
        e,
      );
    throw tlsError(`key_file ${path}: not a PEM private key (${(e as Error).message})`, 'BIFROST_ERR_TLS_BAD_KEY', e);
  }
}

function checkValidity(field: string, path: string | undefined, cert: X509Certificate, now: number): void {
  const where = path ? `${field} ${path}` : field;
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now > to) {
    throw tlsError(
      `${where}: certificate "${cert.subject.replace(/\n/g, ', ')}" expired on ${new Date(to).toISOString()}`,
      'BIFROST_ERR_TLS_CERT_EXPIRED',
    );
  }
  if (now < from) {
    throw tlsError(
      `${where}: certificate "${cert.subject.replace(/\n/g, ', ')}" is not valid before ${new Date(from).toISOString()} (check the clock)`,
      'BIFROST_ERR_TLS_CERT_NOT_YET_VALID',
    );
  }
}

const signedBy = (child: X509Certificate, issuer: X509Certificate): boolean =>
  child.checkIssued(issuer) && child.verify(issuer.publicKey);

/**
 * Walks from the leaf through the intermediates to a certificate of `anchors`; returns whether a
 * signed path exists.
 */
function chainsTo(leaf: X509Certificate, intermediates: X509Certificate[], anchors: X509Certificate[]): boolean {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (anchors.some((a) => signedBy(current, a))) return true;
    const next = intermediates.find((c) => c !== current && signedBy(current, c));
    if (!next) return false;
    current = next;
  }
  return false;
}

/**
 * Reads and checks the TLS files of a connector at startup, so a bad file fails with a clear
 * {@link ConfigError} naming it instead of an opaque handshake error later: every certificate parses
 * and is within its validity period, the key opens (with its passphrase) and matches the
 * certificate, and the certificate chains to `ca_file` (unless `verify_client_chain: false`).
 * Returns PEM strings ready for `tls.connect`.
 */
export async function loadTlsMaterial(
  opts: TlsFileOptions,
  { now = Date.now() }: LoadTlsOptions = {},
): Promise<TlsMaterial> {
  if (Boolean(opts.cert_file) !== Boolean(opts.key_file)) {
    throw tlsError(
      opts.cert_file
        ? `cert_file ${opts.cert_file} is set without key_file`
        : `key_file ${opts.key_file} is set without cert_file`,
      'BIFROST_ERR_TLS_INCOMPLETE',
    );
  }
  const material: TlsMaterial = { rejectUnauthorized: !opts.insecure_skip_verify };
  if (opts.servername) material.servername = opts.servername;

  let anchors: X509Certificate[] = [];
  if (opts.ca_file) {
    material.ca = await readPem('ca_file', opts.ca_file);
    anchors = parseCertificates('ca_file', opts.ca_file, material.ca);
    for (const ca of anchors) checkValidity('ca_file', opts.ca_file, ca, now);
  }

  if (opts.cert_file && opts.key_file) {
    material.cert = await readPem('cert_file', opts.cert_file);
    material.key = await readPem('key_file', opts.key_file);
    if (opts.passphrase) material.passphrase = opts.passphrase;
    const [leaf, ...intermediates] = parseCertificates('cert_file', opts.cert_file, material.cert) as [
      X509Certificate,
      ...X509Certificate[],
    ];
    for (const c of [leaf, ...intermediates]) checkValidity('cert_file', opts.cert_file, c, now);
    const key = parseKey(opts.key_file, material.key, opts.passphrase);
    if (!leaf.checkPrivateKey(key)) {
      throw tlsError(
        `key_file ${opts.key_file} does not match the certificate in cert_file ${opts.cert_file}`,
        'BIFROST_ERR_TLS_KEY_MISMATCH',
      );
    }
    if (
      anchors.length &&
      opts.verify_client_chain !== false &&
      !chainsTo(leaf, [...intermediates, ...anchors], anchors)
    ) {
      throw tlsError(
        `cert_file ${opts.cert_file}: certificate "${leaf.subject.replace(/\n/g, ', ')}" (issuer "${leaf.issuer.replace(/\n/g, ', ')}") ` +
          `does not chain to any certificate in ca_file ${opts.ca_file}; if the server trusts that issuer separately, set verify_client_chain: false`,
        'BIFROST_ERR_TLS_CHAIN',
      );
    }
  }
  return material;
}
