import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect as http2Connect, type IncomingHttpHeaders } from 'node:http2';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTlsFixture,
  findBinary,
  influxdBinary,
  mosquittoBinary,
  postgresBinDir,
  postgresInstallation,
  pstestBinary,
  requirePeer,
  sharedToxiproxy,
  showPeerLogsOnFailure,
  startInflux,
  startMosquitto,
  startPostgres,
  startProcessPeer,
  startPubSubFake,
  startToxiproxy,
  tcpOpen,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type InfluxPeer,
  type MosquittoPeer,
  type PostgresPeer,
  type PubSubFakePeer,
  type TlsFixture,
  type ToxiproxyPeer,
} from '../src/index.js';
import { reapOrphans } from '../src/peers/reaper.js';

const run = promisify(execFile);

/** True once the process is gone: kill -0 fails, or only a zombie is left (a container's init may not reap orphans). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false;
  } catch {
    return true;
  }
}

async function expectCleanedUp(peer: {
  dir: string;
  pid: number | undefined;
  dispose(): Promise<void>;
}): Promise<void> {
  const pid = peer.pid!;
  expect(pid).toBeGreaterThan(0);
  await peer.dispose();
  expect(gone(pid), `server pid ${pid} still alive after dispose()`).toBe(true);
  expect(existsSync(peer.dir), `${peer.dir} left behind`).toBe(false);
}

let tls: TlsFixture;
beforeAll(() => {
  tls = createTlsFixture();
});
afterAll(() => tls?.dispose());

describe('process peer base harness', () => {
  const nodeEcho = (port: number) => [
    '-e',
    `require('net').createServer((s) => s.pipe(s)).listen(${port}, '127.0.0.1')`,
  ];

  it('stops, kills and starts again on the same port and directory; reports startup failures with output', async () => {
    const peer = await startProcessPeer({
      name: 'echo',
      command: process.execPath,
      ports: ['tcp'],
      args: ({ ports }) => nodeEcho(ports.tcp),
    });
    const { tcp } = peer.ports;
    const firstPid = peer.pid!;
    await peer.kill();
    expect(peer.running).toBe(false);
    expect(await tcpOpen(tcp)).toBe(false);
    await peer.start();
    expect(peer.pid).not.toBe(firstPid);
    expect(peer.ports.tcp).toBe(tcp);
    await peer.restart();
    expect(await tcpOpen(tcp)).toBe(true);
    expect(peer.logs()).toContain('--- stop (SIGKILL) ---');
    await expectCleanedUp(peer);

    await expect(
      startProcessPeer({
        name: 'broken',
        command: process.execPath,
        ports: ['tcp'],
        args: ['-e', 'console.error("config error: no such file"); process.exit(3)'],
      }),
    ).rejects.toThrow(/broken exited during startup \(code 3\)[\s\S]*config error: no such file/);
  });

  it('reaps the server and directory of a test process that died without cleaning up', async () => {
    const script = `
      const { startProcessPeer } = await import(${JSON.stringify(new URL('../dist/peers/index.js', import.meta.url).href)});
      const p = await startProcessPeer({ name: 'orphan', command: process.execPath, ports: ['tcp'], args: ({ ports }) => ${JSON.stringify(nodeEcho(0))}.map((a) => a.replace('listen(0', 'listen(' + ports.tcp)) });
      console.log(JSON.stringify({ pid: p.pid, dir: p.dir }));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(d.toString())),
    );
    const orphan = JSON.parse(line) as { pid: number; dir: string };
    child.kill('SIGKILL'); // no 'exit' handler runs: the server and its dir stay behind
    await new Promise((r) => child.once('exit', r));
    expect(gone(orphan.pid)).toBe(false);
    reapOrphans();
    await expect.poll(() => gone(orphan.pid)).toBe(true);
    expect(existsSync(orphan.dir)).toBe(false);
  });
});

const mosquittoReq = requirePeer(
  'mosquitto',
  () => mosquittoBinary() && findBinary('mosquitto_sub') && findBinary('mosquitto_pub'),
);
describe.skipIf(!mosquittoReq.available)('mosquitto peer', () => {
  let broker: MosquittoPeer;
  const user = { username: 'sensor', password: 's3cret' };
  beforeAll(async () => {
    broker = await startMosquitto({ tls: tls.serverTls(), users: [user] });
  });
  afterAll(() => broker?.dispose());
  showPeerLogsOnFailure(() => [broker]);

  const auth = ['-u', user.username, '-P', user.password];
  const roundTrip = async (listener: string[], message: string) => {
    const topic = `t/${message}`;
    const sub = run('mosquitto_sub', [...listener, ...auth, '-t', topic, '-C', '1', '-W', '10', '-q', '1']);
    await new Promise((r) => setTimeout(r, 300)); // subscriber first
    await run('mosquitto_pub', [...listener, ...auth, '-t', topic, '-m', message, '-q', '1']);
    return (await sub).stdout.trim();
  };
  const plain = () => ['-h', '127.0.0.1', '-p', String(broker.ports.mqtt)];
  const overTls = () => ['-h', 'localhost', '-p', String(broker.ports.mqtts), '--cafile', tls.ca.certFile];
  const mutual = (cert = tls.client) => [
    '-h',
    'localhost',
    '-p',
    String(broker.ports.mqttsMutual),
    '--cafile',
    tls.ca.certFile,
    '--cert',
    cert.certFile,
    '--key',
    cert.keyFile,
  ];

  it('delivers over plain, TLS and mTLS listeners with password auth', async () => {
    expect(await roundTrip(plain(), 'plain')).toBe('plain');
    expect(await roundTrip(overTls(), 'tls')).toBe('tls');
    expect(await roundTrip(mutual(), 'mtls')).toBe('mtls');
  });

  it('refuses a wrong password, a missing, expired or foreign client certificate, and an untrusted server CA', async () => {
    const pub = (args: string[]) => run('mosquitto_pub', [...args, '-t', 'x', '-m', 'x', '-q', '1']);
    await expect(pub([...plain(), '-u', user.username, '-P', 'wrong'])).rejects.toThrow(
      /not authori[sz]ed|Connection Refused/i,
    );
    await expect(pub([...plain()])).rejects.toThrow(/not authori[sz]ed|Connection Refused/i);
    const withoutCert = [
      '-h',
      'localhost',
      '-p',
      String(broker.ports.mqttsMutual),
      '--cafile',
      tls.ca.certFile,
      ...auth,
    ];
    await expect(pub(withoutCert)).rejects.toThrow();
    await expect(pub([...mutual(tls.expiredClient), ...auth])).rejects.toThrow();
    await expect(pub([...mutual(tls.foreignClient), ...auth])).rejects.toThrow();
    await expect(
      pub(['-h', 'localhost', '-p', String(broker.ports.mqtts), '--cafile', tls.otherCa.certFile, ...auth]),
    ).rejects.toThrow();
  });

  it('keeps retained messages across a restart on the same ports', async () => {
    await run('mosquitto_pub', [...plain(), ...auth, '-t', 'retained', '-m', 'kept', '-r', '-q', '1']);
    await broker.restart();
    const { stdout } = await run('mosquitto_sub', [...plain(), ...auth, '-t', 'retained', '-C', '1', '-W', '10']);
    expect(stdout.trim()).toBe('kept');
  });

  it('cleans up', async () => {
    await expectCleanedUp(broker);
  });
});

const postgresReq = requirePeer('postgres', postgresInstallation);
describe.skipIf(!postgresReq.available)('postgres peer', () => {
  let pg: PostgresPeer;
  beforeAll(async () => {
    pg = await startPostgres({ tls: tls.serverTls() });
  });
  afterAll(() => pg?.dispose());
  showPeerLogsOnFailure(() => [pg]);

  const psql = (query: string, params: string) =>
    run(`${postgresBinDir()}/psql`, ['-X', '-At', '-c', query, `${pg.url}?${params}`]).then((r) => r.stdout.trim());
  const verified = () => `sslmode=verify-full&sslrootcert=${tls.ca.certFile}`;

  it('answers SELECT 1 over TLS verified against the run CA, as the password user', async () => {
    expect(await psql('SELECT 1, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', verified())).toBe('1|t');
    expect(await psql('SELECT current_user, current_database()', 'sslmode=disable')).toBe(
      `${pg.user.username}|${pg.database}`,
    );
  });

  it('refuses a wrong password and a server check against another CA', async () => {
    const wrong = pg.url.replace(`:${encodeURIComponent(pg.user.password)}@`, ':wrong@');
    await expect(run(`${postgresBinDir()}/psql`, ['-X', '-c', 'SELECT 1', `${wrong}?sslmode=disable`])).rejects.toThrow(
      /password authentication failed/,
    );
    await expect(psql('SELECT 1', `sslmode=verify-full&sslrootcert=${tls.otherCa.certFile}`)).rejects.toThrow(
      /certificate verify failed/,
    );
  });

  it('creates databases and keeps committed rows through restart and SIGKILL', async () => {
    await pg.createDatabase('extra');
    expect(await pg.sql("SELECT datname FROM pg_database WHERE datname = 'extra'")).toBe('extra');
    await pg.sql('CREATE TABLE t (id int primary key)', 'extra');
    await pg.sql('INSERT INTO t VALUES (1)', 'extra');
    await pg.restart();
    await pg.sql('INSERT INTO t VALUES (2)', 'extra');
    await pg.kill();
    await pg.start();
    expect(await pg.sql('SELECT count(*) FROM t', 'extra')).toBe('2');
    expect(await psql('SELECT 1', verified())).toBe('1');
  });

  it('with requireClientCert accepts only TLS with a client certificate from the run CA', async () => {
    const strict = await startPostgres({ tls: tls.serverTls(), requireClientCert: true, timescale: false });
    try {
      const base = `${strict.url}?sslmode=verify-full&sslrootcert=${tls.ca.certFile}`;
      const psqlStrict = (params: string) =>
        run(`${postgresBinDir()}/psql`, ['-X', '-At', '-c', 'SELECT 1', `${base}${params}`]).then((r) =>
          r.stdout.trim(),
        );
      expect(await psqlStrict(`&sslcert=${tls.client.certFile}&sslkey=${tls.client.keyFile}`)).toBe('1');
      await expect(psqlStrict('')).rejects.toThrow(/certificate/i);
      await expect(
        psqlStrict(`&sslcert=${tls.foreignClient.certFile}&sslkey=${tls.foreignClient.keyFile}`),
      ).rejects.toThrow();
      await expect(
        run(`${postgresBinDir()}/psql`, ['-X', '-c', 'SELECT 1', `${strict.url}?sslmode=disable`]),
      ).rejects.toThrow(/no encryption|rejects connection|reject/i);
    } finally {
      await strict.dispose();
    }
  });

  it('cleans up', async () => {
    await expectCleanedUp(pg);
  });
});

const influxReq = requirePeer('influxdb', influxdBinary);
describe.skipIf(!influxReq.available)('influxdb peer', () => {
  let influx: InfluxPeer;
  beforeAll(async () => {
    influx = await startInflux();
  });
  afterAll(() => influx?.dispose());
  showPeerLogsOnFailure(() => [influx]);

  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });

  it('answers /ping, requires auth for queries, accepts the admin', async () => {
    expect((await fetch(`${influx.url}/ping`)).status).toBe(204);
    expect((await fetch(`${influx.url}/query?q=SHOW+DATABASES`)).status).toBe(401);
    expect(
      (await fetch(`${influx.url}/query?q=SHOW+DATABASES`, { headers: basic(influx.admin.username, 'wrong') })).status,
    ).toBe(401);
    const res = await fetch(`${influx.url}/query?q=SHOW+DATABASES`, {
      headers: basic(influx.admin.username, influx.admin.password),
    });
    expect(await res.text()).toContain(`"${influx.database}"`);
  });

  it('keeps written points across a restart', async () => {
    const at = Date.now();
    await influx.writeLines(`temperature,device=plc1 value=21.5 ${at}`);
    await influx.restart();
    expect(await influx.query('SELECT value, device FROM temperature')).toEqual([
      { time: at, value: 21.5, device: 'plc1' },
    ]);
  });

  it('serves HTTPS with the run certificate when asked', async () => {
    const secure = await startInflux({ tls: tls.serverTls() });
    try {
      expect(secure.url).toMatch(/^https:\/\/localhost:/);
      await secure.writeLines(`m value=1 ${Date.now()}`);
      expect(await secure.query('SELECT count(value) FROM m')).toEqual([{ time: 0, count: 1 }]);
    } finally {
      await secure.dispose();
    }
  });

  it('cleans up', async () => {
    await expectCleanedUp(influx);
  });
});

const toxiproxyReq = requirePeer('toxiproxy', toxiproxyBinary);
describe.skipIf(!toxiproxyReq.available)('toxiproxy peer', () => {
  let toxi: ToxiproxyPeer;
  let echo: Server;
  let echoPort: number;
  beforeAll(async () => {
    toxi = await startToxiproxy();
    echo = createServer((s) =>
      s
        .on('error', () => {
          /* reset_peer / timeout toxics reset it */
        })
        .pipe(s),
    );
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as { port: number }).port;
  });
  afterAll(async () => {
    echo?.close();
    await toxi?.dispose();
  });
  showPeerLogsOnFailure(() => [toxi]);

  /** Round trip of one message through host:port, ms; rejects when the connection fails or is reset. */
  const roundTrip = (port: number, timeoutMs = 5_000) =>
    new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const s = netConnect({ host: '127.0.0.1', port }, () => s.write('ping'));
      s.setTimeout(timeoutMs, () => s.destroy(new Error('timed out')));
      s.once('data', () => {
        s.destroy();
        resolve(Date.now() - started);
      });
      s.once('error', reject);
      s.once('close', () => reject(new Error('closed without an answer')));
    });

  it('proxies a TCP echo; a latency toxic adds the delay and is removed again', async () => {
    const proxy = await toxi.client.createProxy({ upstream: `127.0.0.1:${echoPort}` });
    expect(proxy.host).toBe('127.0.0.1');
    expect(await roundTrip(proxy.port)).toBeLessThan(200);
    const name = await proxy.addToxic({ type: 'latency', attributes: { latency: 400 } });
    expect(await proxy.toxics()).toEqual([name]);
    expect(await roundTrip(proxy.port)).toBeGreaterThanOrEqual(390);
    await proxy.removeToxic(name);
    expect(await roundTrip(proxy.port)).toBeLessThan(200);
    await proxy.delete();
  });

  it('disables and enables a proxy; reset_peer resets connections', async () => {
    const proxy = await toxi.client.createProxy({ upstream: `127.0.0.1:${echoPort}` });
    await proxy.disable();
    await expect(roundTrip(proxy.port)).rejects.toThrow();
    await proxy.enable();
    expect(await roundTrip(proxy.port)).toBeLessThan(200);
    await proxy.addToxic({ type: 'reset_peer', attributes: { timeout: 0 } }, { stream: 'upstream' });
    await expect(roundTrip(proxy.port)).rejects.toThrow(/ECONNRESET|closed without an answer/);
    await toxi.client.reset();
    expect(await roundTrip(proxy.port)).toBeLessThan(200);
    await proxy.delete();
  });

  it('serves the conformance suite as a fault proxy', async () => {
    const proxy = await toxiproxyFaultProxy(toxi)({ host: '127.0.0.1', port: echoPort });
    const remove = await proxy.inject({ type: 'latency', latencyMs: 200 });
    expect(await roundTrip(proxy.listen.port)).toBeGreaterThanOrEqual(390); // both directions
    await remove();
    const removeTimeout = await proxy.inject({ type: 'timeout', timeoutMs: 300 });
    await expect(roundTrip(proxy.listen.port)).rejects.toThrow();
    await removeTimeout();
    expect(await roundTrip(proxy.listen.port)).toBeLessThan(200);
    await proxy.close();
  });

  it('starts one shared server on demand for toxiproxyFaultProxy() without arguments', async () => {
    const faults = toxiproxyFaultProxy();
    const a = await faults({ host: '127.0.0.1', port: echoPort });
    const b = await faults({ host: '127.0.0.1', port: echoPort });
    expect(a.listen.port).not.toBe(b.listen.port);
    const shared = await sharedToxiproxy();
    expect(shared.pid).not.toBe(toxi.pid);
    expect(await roundTrip(b.listen.port)).toBeLessThan(200);
    await a.close();
    await b.close();
    await expectCleanedUp(shared);
  });

  it('restarts and cleans up', async () => {
    await toxi.restart();
    expect((await fetch(`${toxi.apiUrl}/version`)).ok).toBe(true);
    await expectCleanedUp(toxi);
  });
});

/** gRPC unary call without a gRPC library: HTTP/2 POST, 5-byte length-prefixed protobuf, status in trailers. */
function grpcUnary(
  host: string,
  method: string,
  message: Buffer,
): Promise<{ status: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`http://${host}`);
    session.once('error', reject);
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const req = session.request({
      ':method': 'POST',
      ':path': method,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    req.on('response', (h) => {
      status ??= h['grpc-status'] as string | undefined;
    });
    req.on('trailers', (h: IncomingHttpHeaders) => {
      status = h['grpc-status'] as string | undefined;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ status, body: Buffer.concat(chunks) });
    });
    req.on('error', reject);
    req.end(frame);
  });
}

const pstestReq = requirePeer('pstest', pstestBinary);
describe.skipIf(!pstestReq.available)('pub/sub fake peer', () => {
  let pubsub: PubSubFakePeer;
  beforeAll(async () => {
    pubsub = await startPubSubFake();
  });
  afterAll(() => pubsub?.dispose());
  showPeerLogsOnFailure(() => [pubsub]);

  // google.pubsub.v1.Topic { name = 1 }
  const topic = (name: string) => Buffer.concat([Buffer.from([0x0a, name.length]), Buffer.from(name)]);

  it('serves the Pub/Sub gRPC API; a restart starts empty (in-memory fake)', async () => {
    const name = 'projects/test/topics/readings';
    const created = await grpcUnary(pubsub.emulatorHost, '/google.pubsub.v1.Publisher/CreateTopic', topic(name));
    expect(created.status).toBe('0');
    expect(created.body.toString()).toContain(name);
    expect((await grpcUnary(pubsub.emulatorHost, '/google.pubsub.v1.Publisher/CreateTopic', topic(name))).status).toBe(
      '6',
    ); // ALREADY_EXISTS
    await pubsub.restart();
    expect((await grpcUnary(pubsub.emulatorHost, '/google.pubsub.v1.Publisher/CreateTopic', topic(name))).status).toBe(
      '0',
    );
  });

  it('cleans up', async () => {
    await expectCleanedUp(pubsub);
  });
});

describe('tls fixture', () => {
  it('server certificate verifies for localhost, 127.0.0.1 and ::1; mTLS accepts only the valid client certificate', async () => {
    const { createServer: createTlsServer } = await import('node:tls');
    const server = createTlsServer(
      { ca: tls.ca.cert, cert: tls.server.cert, key: tls.server.key, requestCert: true, rejectUnauthorized: true },
      (s) => s.end('ok'),
    );
    await new Promise<void>((r) => server.listen(0, '::', r));
    const port = (server.address() as { port: number }).port;
    const attempt = (host: string, kind: Parameters<TlsFixture['clientTls']>[0], servername?: string) =>
      new Promise<string>((resolve) => {
        const material = tls.clientTls(kind);
        const s = tlsConnect({ host, port, ...material, servername: servername ?? material.servername });
        s.once('data', (d: Buffer) => {
          s.destroy();
          resolve(d.toString());
        });
        s.once('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
        s.once('end', () => resolve('closed'));
      });
    try {
      expect(await attempt('127.0.0.1', 'mtls')).toBe('ok');
      expect(await attempt('::1', 'mtls', '')).toBe('ok');
      expect(await attempt('localhost', 'mtls')).toBe('ok');
      expect(await attempt('127.0.0.1', 'untrusted-ca')).toMatch(
        /^error (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/,
      );
      expect(await attempt('127.0.0.1', 'tls')).not.toBe('ok');
      expect(await attempt('127.0.0.1', 'expired-cert')).not.toBe('ok');
      expect(await attempt('127.0.0.1', 'foreign-cert')).not.toBe('ok');
    } finally {
      server.close();
    }
  });
});
