import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';

/** Kafka release `scripts/peers/kafka.sh` fetches (override both with `BIFROST_KAFKA_VERSION`). */
export const KAFKA_VERSION = process.env.BIFROST_KAFKA_VERSION ?? '3.9.1';

const INSTALL_HINT = 'install it with `bash scripts/install-peers.sh` (or `bash scripts/peers/kafka.sh`; needs java 17+ and maven)';

/** PEM material for the broker's SASL_SSL listener. The key must be unencrypted PKCS#8 (`BEGIN PRIVATE KEY`). */
export interface KafkaTlsFiles {
  /** CA that signed the server certificate, and that client certificates are checked against. */
  caPem: string;
  /** Server certificate (chain) with SANs `localhost` / `127.0.0.1`. */
  certPem: string;
  keyPem: string;
}

/** A SASL user known to the broker on its SASL_SSL listener (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512). */
export interface KafkaUser {
  username: string;
  password: string;
}

export interface KafkaPeerOptions {
  /** Enables the SASL_SSL listener and the MTLS listener (TLS, client certificate required). Without it only PLAINTEXT is opened. */
  tls?: KafkaTlsFiles;
  /** Users for SASL PLAIN and SCRAM; default one `bifrost` user with a random password. */
  users?: KafkaUser[];
  /** Partitions of auto-created topics (default 3, so per-device ordering is exercised). */
  partitions?: number;
  /** Extra `server.properties` lines. */
  properties?: Record<string, string | number | boolean>;
  /** JVM heap cap, default `512m`. */
  heap?: string;
  /** How long to wait for the broker to come up, ms (default 60 s). */
  startTimeoutMs?: number;
}

/** Where the jars live, or why they are not usable. */
export function kafkaInstallation(): { home: string; classpath: string } | { missing: string } {
  const peersDir = process.env.BIFROST_PEERS_DIR ?? join(homedir(), '.cache', 'bifrost-peers');
  const home = join(peersDir, `kafka-${KAFKA_VERSION}`);
  if (!existsSync(join(home, '.complete'))) return { missing: `Apache Kafka ${KAFKA_VERSION} jars not found in ${home}; ${INSTALL_HINT}` };
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) return { missing: `java not found on PATH; ${INSTALL_HINT}` };
  return { home, classpath: join(home, 'libs', '*') };
}

/** Listener ports; `saslSsl` and `mtls` only with TLS. */
export interface KafkaPorts {
  plaintext: number;
  controller: number;
  saslSsl?: number;
  mtls?: number;
}

/** Kafka cluster ids are 16 random bytes, base64url without padding. */
function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/** The broker config: KRaft combined mode, loopback listeners, single-replica internal topics. */
export function kafkaServerProperties(p: {
  dataDir: string;
  ports: KafkaPorts;
  tlsDir?: string;
  users: KafkaUser[];
  partitions: number;
  extra?: Record<string, string | number | boolean>;
}): string {
  const listeners = [`PLAINTEXT://127.0.0.1:${p.ports.plaintext}`, `CONTROLLER://127.0.0.1:${p.ports.controller}`];
  const advertised = [`PLAINTEXT://127.0.0.1:${p.ports.plaintext}`];
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${p.ports.controller}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:PLAINTEXT',
    'log.dirs': p.dataDir,
    'num.partitions': p.partitions,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'num.network.threads': 2,
    'num.io.threads': 2,
  };
  if (p.ports.saslSsl !== undefined && p.ports.mtls !== undefined && p.tlsDir) {
    for (const l of [`SASL_SSL://127.0.0.1:${p.ports.saslSsl}`, `MTLS://127.0.0.1:${p.ports.mtls}`]) {
      listeners.push(l);
      advertised.push(l);
    }
    const plainUsers = p.users.map((u) => `user_${u.username}="${u.password}"`).join(' ');
    Object.assign(props, {
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      // PEM stores (Kafka 2.7+): the key file holds the PKCS#8 key followed by the certificate chain.
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': join(p.tlsDir, 'keystore.pem'),
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': join(p.tlsDir, 'ca.pem'),
      'listener.name.sasl_ssl.ssl.client.auth': 'none',
      'listener.name.mtls.ssl.client.auth': 'required',
    });
  }
  props.listeners = listeners.join(',');
  props['advertised.listeners'] = advertised.join(',');
  Object.assign(props, p.extra);
  return Object.entries(props).map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n';
}

const LOG4J = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.org.apache.kafka.clients=WARN',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
].join('\n');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * A single-node Apache Kafka (KRaft: broker and controller in one JVM) on loopback: a PLAINTEXT
 * listener, and with `tls` a SASL_SSL listener accepting PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
 * Ports are random, data lives in a temporary directory that survives {@link restart} and is
 * removed by {@link stop}.
 */
export class KafkaPeer {
  /** `127.0.0.1:port` of the PLAINTEXT listener. */
  bootstrap = '';
  /** `127.0.0.1:port` of the SASL_SSL listener (when started with `tls`). */
  saslSslBootstrap: string | undefined;
  /** `127.0.0.1:port` of the TLS listener that requires a client certificate signed by the CA (when started with `tls`). */
  mtlsBootstrap: string | undefined;
  readonly users: KafkaUser[];
  private dir = '';
  private ports: KafkaPorts = { plaintext: 0, controller: 0 };
  private proc: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private log: string[] = [];
  private readonly java: { home: string; classpath: string };

  private constructor(private readonly opts: KafkaPeerOptions, java: { home: string; classpath: string }) {
    this.java = java;
    this.users = opts.users ?? [{ username: 'bifrost', password: randomBytes(9).toString('base64url') }];
  }

  /** Starts a broker; throws with the install hint when the jars or java are missing. */
  static async start(opts: KafkaPeerOptions = {}): Promise<KafkaPeer> {
    const java = kafkaInstallation();
    if ('missing' in java) throw new Error(`[testkit] ${java.missing}`);
    const peer = new KafkaPeer(opts, java);
    try {
      await peer.prepare();
      await peer.launch();
    } catch (err) {
      await peer.stop();
      throw err;
    }
    return peer;
  }

  /** The broker's recent output (for failing tests). */
  logs(): string {
    return this.log.join('');
  }

  /** Stops the JVM (SIGTERM: controlled shutdown) and starts it again on the same ports and data. */
  async restart(): Promise<void> {
    await this.halt();
    await this.launch();
  }

  /** Stops the broker without removing its data (see {@link resume}); for "peer down" scenarios. */
  async halt(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(killer);
  }

  /** Starts a halted broker again. */
  resume(): Promise<void> {
    return this.launch();
  }

  /** Stops the broker and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    await this.halt();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = '';
  }

  private async prepare(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'bifrost-kafka-'));
    this.ports = { plaintext: await getPort({ host: '127.0.0.1' }), controller: await getPort({ host: '127.0.0.1' }) };
    let tlsDir: string | undefined;
    if (this.opts.tls) {
      this.ports.saslSsl = await getPort({ host: '127.0.0.1' });
      this.ports.mtls = await getPort({ host: '127.0.0.1' });
      tlsDir = join(this.dir, 'tls');
      await mkdir(tlsDir);
      await writeFile(join(tlsDir, 'keystore.pem'), `${this.opts.tls.keyPem.trim()}\n${this.opts.tls.certPem.trim()}\n`, { mode: 0o600 });
      await writeFile(join(tlsDir, 'ca.pem'), this.opts.tls.caPem);
    }
    const props = kafkaServerProperties({
      dataDir: join(this.dir, 'data'),
      ports: this.ports,
      tlsDir,
      users: this.users,
      partitions: this.opts.partitions ?? 3,
      extra: this.opts.properties,
    });
    await writeFile(join(this.dir, 'server.properties'), props);
    await writeFile(join(this.dir, 'log4j.properties'), LOG4J);
    const scram = this.opts.tls
      ? this.users.flatMap((u) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => ['--add-scram', `${m}=[name=${u.username},password=${u.password}]`]))
      : [];
    const format = spawnSync('java', [
      ...this.jvmArgs(),
      'kafka.tools.StorageTool', 'format', '-t', randomClusterId(), '-c', join(this.dir, 'server.properties'), ...scram,
    ], { encoding: 'utf8' });
    if (format.status !== 0) throw new Error(`[testkit] kafka storage format failed:\n${format.stdout}${format.stderr}`);
    this.bootstrap = `127.0.0.1:${this.ports.plaintext}`;
    this.saslSslBootstrap = this.ports.saslSsl === undefined ? undefined : `127.0.0.1:${this.ports.saslSsl}`;
    this.mtlsBootstrap = this.ports.mtls === undefined ? undefined : `127.0.0.1:${this.ports.mtls}`;
  }

  private jvmArgs(): string[] {
    return [
      `-Xmx${this.opts.heap ?? '512m'}`, '-Xms64m', '-XX:+UseSerialGC', '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`, '-cp', this.java.classpath,
    ];
  }

  private async launch(): Promise<void> {
    const proc = spawn('java', [...this.jvmArgs(), 'kafka.Kafka', join(this.dir, 'server.properties')], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    let started = false;
    const capture = (chunk: Buffer) => {
      const text = chunk.toString();
      if (text.includes('Kafka Server started')) started = true;
      this.log.push(text);
      if (this.log.length > 400) this.log.splice(0, this.log.length - 400);
    };
    proc.stdout!.on('data', capture);
    proc.stderr!.on('data', capture);
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 60_000);
    while (!started || !(await portOpen(this.ports.plaintext))) {
      if (proc.exitCode !== null) throw new Error(`[testkit] kafka exited with ${proc.exitCode}:\n${this.logs().slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`[testkit] kafka did not start in time:\n${this.logs().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
