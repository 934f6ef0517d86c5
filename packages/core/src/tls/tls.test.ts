import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../errors.js';
import type { Logger } from '../plugin.js';
import { certificateExpiry, expiringSoon, registerTlsExpiryGauge } from './expiry.js';
import { loadTlsMaterial, type TlsFileOptions } from './load.js';
import { manageConnectorTls } from './manage.js';
import { watchTlsMaterial } from './watch.js';

/** Certificates made with the openssl binary in a temp dir (EC P-256: fast). */
let dir: string;
const f = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function newKey(name: string): void {
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(`${name}.key`));
}
function selfSignedCa(name: string): void {
  newKey(name);
  openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    f(`${name}.key`),
    '-out',
    f(`${name}.pem`),
    '-days',
    '365',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
}
function issue(name: string, ca: string, { days = 30, isCa = false, keyName = name } = {}): void {
  if (keyName === name) newKey(name);
  openssl('req', '-new', '-key', f(`${keyName}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
  writeFileSync(
    f(`${name}.ext`),
    isCa ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' : 'basicConstraints=CA:FALSE\n',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    f(`${name}.csr`),
    '-CA',
    f(`${ca}.pem`),
    '-CAkey',
    f(`${ca}.key`),
    '-set_serial',
    String(Date.now() + Math.floor(Math.random() * 1000)),
    '-out',
    f(`${name}.pem`),
    '-days',
    String(days),
    '-extfile',
    f(`${name}.ext`),
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bifrost-tls-'));
  selfSignedCa('ca');
  selfSignedCa('otherca');
  issue('client', 'ca');
  issue('expired', 'ca', { days: -1 });
  issue('foreign', 'otherca');
  newKey('stranger');
  openssl('pkey', '-in', f('client.key'), '-aes256', '-passout', 'pass:s3cret', '-out', f('client-enc.key'));
  issue('inter', 'ca', { isCa: true });
  issue('chained', 'inter');
  writeFileSync(f('chained-bundle.pem'), readFileSync(f('chained.pem'), 'utf8') + readFileSync(f('inter.pem'), 'utf8'));
  issue('client2', 'ca', { days: 90 });
  writeFileSync(f('garbage.pem'), 'not a certificate\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const expectTlsError = async (opts: TlsFileOptions, code: string, message: RegExp, now?: number) => {
  const err = await loadTlsMaterial(opts, now === undefined ? {} : { now }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
};

describe('loadTlsMaterial', () => {
  it('loads a valid CA, certificate and key as PEM strings', async () => {
    const m = await loadTlsMaterial({
      ca_file: f('ca.pem'),
      cert_file: f('client.pem'),
      key_file: f('client.key'),
      servername: 'broker.local',
    });
    expect(m.ca).toBe(readFileSync(f('ca.pem'), 'utf8'));
    expect(m.cert).toContain('-----BEGIN CERTIFICATE-----');
    expect(m.key).toContain('PRIVATE KEY');
    expect(m.servername).toBe('broker.local');
    expect(m.rejectUnauthorized).toBe(true);
  });

  it('loads a CA alone, and honours insecure_skip_verify', async () => {
    const m = await loadTlsMaterial({ ca_file: f('ca.pem'), insecure_skip_verify: true });
    expect(m.cert).toBeUndefined();
    expect(m.rejectUnauthorized).toBe(false);
  });

  it('opens an encrypted key with its passphrase', async () => {
    const m = await loadTlsMaterial({
      ca_file: f('ca.pem'),
      cert_file: f('client.pem'),
      key_file: f('client-enc.key'),
      passphrase: 's3cret',
    });
    expect(m.key).toContain('ENCRYPTED PRIVATE KEY');
    expect(m.passphrase).toBe('s3cret');
  });

  it('rejects an encrypted key without or with a wrong passphrase, naming the file', async () => {
    await expectTlsError(
      { cert_file: f('client.pem'), key_file: f('client-enc.key') },
      'BIFROST_ERR_TLS_KEY_PASSPHRASE',
      new RegExp(`key_file ${f('client-enc.key')}: the key is encrypted`),
    );
    await expectTlsError(
      { cert_file: f('client.pem'), key_file: f('client-enc.key'), passphrase: 'wrong' },
      'BIFROST_ERR_TLS_KEY_PASSPHRASE',
      /wrong passphrase/,
    );
  });

  it('rejects a key that does not match the certificate', async () => {
    await expectTlsError(
      { cert_file: f('client.pem'), key_file: f('stranger.key') },
      'BIFROST_ERR_TLS_KEY_MISMATCH',
      new RegExp(`key_file ${f('stranger.key')} does not match the certificate in cert_file ${f('client.pem')}`),
    );
  });

  it('rejects an expired certificate', async () => {
    await expectTlsError(
      { ca_file: f('ca.pem'), cert_file: f('expired.pem'), key_file: f('expired.key') },
      'BIFROST_ERR_TLS_CERT_EXPIRED',
      new RegExp(`cert_file ${f('expired.pem')}: certificate "CN=expired" expired on`),
    );
  });

  it('rejects certificates outside their validity period at a given time', async () => {
    const opts = { ca_file: f('ca.pem'), cert_file: f('client.pem'), key_file: f('client.key') };
    await expectTlsError(
      opts,
      'BIFROST_ERR_TLS_CERT_NOT_YET_VALID',
      /ca_file .*"CN=ca" is not valid before/,
      Date.now() - 86_400_000,
    );
    await expectTlsError(
      opts,
      'BIFROST_ERR_TLS_CERT_EXPIRED',
      /cert_file .*"CN=client" expired/,
      Date.now() + 60 * 86_400_000,
    );
  });

  it('rejects a certificate issued by another CA, unless verify_client_chain is false', async () => {
    const opts = { ca_file: f('ca.pem'), cert_file: f('foreign.pem'), key_file: f('foreign.key') };
    await expectTlsError(
      opts,
      'BIFROST_ERR_TLS_CHAIN',
      new RegExp(
        `cert_file ${f('foreign.pem')}: certificate "CN=foreign" \\(issuer "CN=otherca"\\) does not chain to any certificate in ca_file`,
      ),
    );
    await expect(loadTlsMaterial({ ...opts, verify_client_chain: false })).resolves.toMatchObject({
      rejectUnauthorized: true,
    });
  });

  it('follows intermediates bundled after the leaf', async () => {
    const m = await loadTlsMaterial({
      ca_file: f('ca.pem'),
      cert_file: f('chained-bundle.pem'),
      key_file: f('chained.key'),
    });
    expect(m.cert!.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    await expectTlsError(
      { ca_file: f('ca.pem'), cert_file: f('chained.pem'), key_file: f('chained.key') },
      'BIFROST_ERR_TLS_CHAIN',
      /does not chain/,
    );
  });

  it('names missing, unreadable and malformed files', async () => {
    await expectTlsError(
      { ca_file: f('nope.pem') },
      'BIFROST_ERR_TLS_FILE_UNREADABLE',
      new RegExp(`ca_file ${f('nope.pem')}: cannot read the file \\(ENOENT\\)`),
    );
    await expectTlsError(
      { ca_file: f('garbage.pem') },
      'BIFROST_ERR_TLS_BAD_CERT',
      /ca_file .*garbage.pem: no PEM certificate found/,
    );
    await expectTlsError(
      { cert_file: f('client.pem'), key_file: f('garbage.pem') },
      'BIFROST_ERR_TLS_BAD_KEY',
      /key_file .*garbage.pem: not a PEM private key/,
    );
    await expectTlsError(
      { cert_file: f('client.pem') },
      'BIFROST_ERR_TLS_INCOMPLETE',
      /cert_file .* is set without key_file/,
    );
    await expectTlsError(
      { key_file: f('client.key') },
      'BIFROST_ERR_TLS_INCOMPLETE',
      /key_file .* is set without cert_file/,
    );
  });
});

describe('certificate expiry', () => {
  it('reports the earliest expiry per file and what expires soon', async () => {
    const m = await loadTlsMaterial({ ca_file: f('ca.pem'), cert_file: f('client.pem'), key_file: f('client.key') });
    const now = Date.now();
    const [cert, ca] = certificateExpiry(m, now);
    expect(cert).toMatchObject({ file: 'cert_file', subject: 'CN=client' });
    expect(cert?.secondsLeft).toBeGreaterThan(29 * 86_400);
    expect(cert?.secondsLeft).toBeLessThanOrEqual(30 * 86_400);
    expect(ca).toMatchObject({ file: 'ca_file', subject: 'CN=ca' });
    expect(expiringSoon(m, 14 * 86_400_000, now)).toEqual([]);
    expect(expiringSoon(m, 31 * 86_400_000, now).map((e) => e.file)).toEqual(['cert_file']);
  });

  it('exposes bifrost_tls_certificate_expiry_seconds per connector and file', async () => {
    const registry = new Registry();
    const gauge = registerTlsExpiryGauge(registry);
    gauge.set(
      'mqtt:plant-a',
      await loadTlsMaterial({ ca_file: f('ca.pem'), cert_file: f('client.pem'), key_file: f('client.key') }),
    );
    gauge.set('kafka:k', await loadTlsMaterial({ ca_file: f('ca.pem') }));
    const metric = await registry.getSingleMetric('bifrost_tls_certificate_expiry_seconds')!.get();
    const byKey = new Map(metric.values.map((v) => [`${v.labels.connector}/${v.labels.file}`, v.value]));
    expect([...byKey.keys()].sort()).toEqual(['kafka:k/ca_file', 'mqtt:plant-a/ca_file', 'mqtt:plant-a/cert_file']);
    expect(byKey.get('mqtt:plant-a/cert_file')).toBeGreaterThan(29 * 86_400);
    expect(byKey.get('kafka:k/ca_file')).toBeGreaterThan(364 * 86_400);
    gauge.delete('kafka:k');
    expect(await registry.metrics()).not.toContain('kafka:k');
  });
});

describe('watchTlsMaterial', () => {
  it('reloads rotated files, keeps the old material while they are inconsistent, and stops on close', async () => {
    const live = mkdtempSync(join(dir, 'live-'));
    const put = (name: string, from: string) => {
      // Atomic replace, as cert-manager and most deploy tools do.
      writeFileSync(join(live, `.${name}.tmp`), readFileSync(f(from)));
      renameSync(join(live, `.${name}.tmp`), join(live, name));
    };
    put('ca.pem', 'ca.pem');
    put('tls.crt', 'client.pem');
    put('tls.key', 'client.key');
    const opts = { ca_file: join(live, 'ca.pem'), cert_file: join(live, 'tls.crt'), key_file: join(live, 'tls.key') };
    const changes: string[] = [];
    const errors: unknown[] = [];
    const watcher = await watchTlsMaterial(opts, (m) => changes.push(m.cert!), {
      debounceMs: 50,
      pollIntervalMs: 200,
      onError: (e) => errors.push(e),
    });
    try {
      expect(watcher.material.cert).toBe(readFileSync(f('client.pem'), 'utf8'));

      put('tls.crt', 'client2.pem'); // new certificate, old key: must not be taken
      await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 5_000 });
      expect((errors[0] as ConfigError).code).toBe('BIFROST_ERR_TLS_KEY_MISMATCH');
      expect(changes).toEqual([]);
      expect(watcher.material.cert).toBe(readFileSync(f('client.pem'), 'utf8'));

      put('tls.key', 'client2.key');
      await vi.waitFor(() => expect(changes).toHaveLength(1), { timeout: 5_000 });
      expect(changes[0]).toBe(readFileSync(f('client2.pem'), 'utf8'));
      expect(watcher.material.cert).toBe(changes[0]);
      // Two more re-reads of identical content: no repeated change or error.
      const checked = watcher.checks;
      await vi.waitFor(() => expect(watcher.checks).toBeGreaterThanOrEqual(checked + 2), { timeout: 5_000 });
      expect(changes).toHaveLength(1);
      expect(errors).toHaveLength(1);
    } finally {
      watcher.close();
    }
    // A witness watch on the same files sees the next rotation; the closed one must not.
    const witnessed: string[] = [];
    const witness = await watchTlsMaterial(opts, (m) => witnessed.push(m.cert!), {
      debounceMs: 50,
      pollIntervalMs: 200,
    });
    const checksAtClose = watcher.checks;
    try {
      put('tls.crt', 'client.pem');
      put('tls.key', 'client.key');
      await vi.waitFor(() => expect(witnessed).toHaveLength(1), { timeout: 5_000 });
      const afterRotation = witness.checks;
      await vi.waitFor(() => expect(witness.checks).toBeGreaterThan(afterRotation), { timeout: 5_000 });
      expect(changes).toHaveLength(1);
      expect(watcher.checks).toBe(checksAtClose);
    } finally {
      witness.close();
    }
  });

  it('fails at start like loadTlsMaterial', async () => {
    await expect(watchTlsMaterial({ ca_file: f('garbage.pem') }, vi.fn())).rejects.toThrow(/no PEM certificate found/);
  });
});

describe('manageConnectorTls', () => {
  const recorder = () => {
    const lines: Array<{ level: string; obj: unknown; msg?: string }> = [];
    const logger: Logger = {
      trace: (obj, msg) => lines.push({ level: 'trace', obj, msg }),
      debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
      info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
      warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
      error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
      child: () => logger,
    };
    return { lines, logger };
  };

  it('publishes expiry, warns ahead of it, and hands rotations to onRotate', async () => {
    const live = mkdtempSync(join(dir, 'managed-'));
    const put = (name: string, from: string) => writeFileSync(join(live, name), readFileSync(f(from)));
    put('ca.pem', 'ca.pem');
    put('tls.crt', 'client.pem');
    put('tls.key', 'client.key');
    const { lines, logger } = recorder();
    const registry = new Registry();
    const gauge = registerTlsExpiryGauge(registry);
    const rotated: string[] = [];
    const tls = await manageConnectorTls({
      connector: 'mqtt:plant',
      logger,
      gauge,
      warnBeforeMs: 31 * 86_400_000,
      files: { ca_file: join(live, 'ca.pem'), cert_file: join(live, 'tls.crt'), key_file: join(live, 'tls.key') },
      onRotate: (m) => rotated.push(m.cert!),
      watch: { debounceMs: 50, pollIntervalMs: 200 },
    });
    try {
      const warn = lines.find((l) => l.level === 'warn');
      expect(warn?.msg).toMatch(/TLS certificate in cert_file expires in 30 day\(s\)/);
      expect(warn?.obj).toMatchObject({
        connector: 'mqtt:plant',
        file: 'cert_file',
        path: join(live, 'tls.crt'),
        subject: 'CN=client',
      });
      expect(await registry.metrics()).toMatch(
        /bifrost_tls_certificate_expiry_seconds\{connector="mqtt:plant",file="cert_file"\} \d+/,
      );

      put('tls.key', 'stranger.key');
      await vi.waitFor(() => expect(lines.some((l) => l.level === 'error')).toBe(true), { timeout: 5_000 });
      expect(lines.find((l) => l.level === 'error')?.msg).toMatch(
        /cannot be used; keeping the previous certificates: .*does not match/,
      );

      put('tls.crt', 'client2.pem');
      put('tls.key', 'client2.key');
      await vi.waitFor(() => expect(rotated).toHaveLength(1), { timeout: 5_000 });
      expect(rotated).toEqual([readFileSync(f('client2.pem'), 'utf8')]);
      expect(tls.material.cert).toBe(rotated[0]);
    } finally {
      tls.close();
    }
    expect(await registry.metrics()).not.toContain('mqtt:plant');
  });
});
