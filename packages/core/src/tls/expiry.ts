import { Gauge, type Registry } from 'prom-client';
import { parseCertificates } from './load.js';
import type { TlsMaterial } from './types.js';

/** When the earliest-expiring certificate of one TLS file runs out. */
export interface CertificateExpiry {
  /** `cert_file` (client certificate and its chain) or `ca_file`. */
  file: 'cert_file' | 'ca_file';
  /** Subject of the certificate that expires first in that file. */
  subject: string;
  /** Its notAfter, epoch ms. */
  expiresAt: number;
  /** Seconds from `now` to `expiresAt`; negative once expired. */
  secondsLeft: number;
}

/** Warn this long before a certificate expires, by default. */
export const DEFAULT_EXPIRY_WARNING_MS = 14 * 86_400_000;

/**
 * The earliest expiry of each TLS file in `material` (one entry for the client certificate chain,
 * one for the CA bundle; none for files not set).
 */
export function certificateExpiry(material: TlsMaterial, now = Date.now()): CertificateExpiry[] {
  const out: CertificateExpiry[] = [];
  for (const [file, pem] of [
    ['cert_file', material.cert],
    ['ca_file', material.ca],
  ] as const) {
    if (!pem) continue;
    let first: CertificateExpiry | undefined;
    for (const cert of parseCertificates(file, undefined, pem)) {
      const expiresAt = Date.parse(cert.validTo);
      if (!first || expiresAt < first.expiresAt) {
        first = {
          file,
          subject: cert.subject.replace(/\n/g, ', '),
          expiresAt,
          secondsLeft: Math.floor((expiresAt - now) / 1000),
        };
      }
    }
    if (first) out.push(first);
  }
  return out;
}

/** The entries of {@link certificateExpiry} that expire within `withinMs` (already expired included). */
export function expiringSoon(
  material: TlsMaterial,
  withinMs = DEFAULT_EXPIRY_WARNING_MS,
  now = Date.now(),
): CertificateExpiry[] {
  return certificateExpiry(material, now).filter((e) => e.expiresAt - now < withinMs);
}

/** Keeps `bifrost_tls_certificate_expiry_seconds{connector,file}` current for every connector using TLS. */
export interface TlsExpiryGauge {
  /** Records (or replaces, after a rotation) the material of one connector. */
  set(connector: string, material: TlsMaterial): void;
  /** Forgets a connector (removed or TLS turned off). */
  delete(connector: string): void;
}

/**
 * Registers the gauge `bifrost_tls_certificate_expiry_seconds` (seconds until the earliest
 * certificate of each file expires; negative once expired) on `registry`. Values are computed at
 * scrape time, so they count down without further calls.
 */
export function registerTlsExpiryGauge(registry: Registry): TlsExpiryGauge {
  const byConnector = new Map<string, CertificateExpiry[]>();
  new Gauge({
    name: 'bifrost_tls_certificate_expiry_seconds',
    help: 'Seconds until the earliest-expiring certificate of a TLS file expires (negative once expired)',
    labelNames: ['connector', 'file'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const [connector, entries] of byConnector) {
        for (const e of entries) this.set({ connector, file: e.file }, Math.floor((e.expiresAt - now) / 1000));
      }
    },
  });
  return {
    set(connector, material) {
      byConnector.set(connector, certificateExpiry(material));
    },
    delete(connector) {
      byConnector.delete(connector);
    },
  };
}
