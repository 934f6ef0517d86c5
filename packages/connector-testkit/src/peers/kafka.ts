import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALL_HINT, findBinary, peersDir } from './binaries.js';
import { startProcessPeer, type PeerContext, type ProcessPeer } from './process-peer.js';
import type { ServerTlsPem } from '../tls/fixture.js';

/** Kafka release `scripts/peers/kafka.sh` fetches (override both with `BIFROST_KAFKA_VERSION`). */
export const KAFKA_VERSION = process.env.BIFROST_KAFKA_VERSION ?? '3.9.1';

/** A SASL user known to the broker on its SASL_SSL listener (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512). */
export interface KafkaUser {
  username: string;
  password: string;
}

export interface KafkaOptions {
  /**
   * Opens two more listeners with this material (the key must be unencrypted PKCS#8):
   * `saslSsl` (TLS + SASL PLAIN / SCRAM, no client certificate) and `mtls` (TLS, a client
   * certificate signed by `caPem` required, no SASL).
   */
  tls?: ServerTlsPem;
  /** SASL users; default one `bifrost` user with a random password. */
  users?: readonly KafkaUser[];
  /** Partitions of auto-created topics (default 3, so per-device ordering is exercised). */
  partitions?: number;
  /** Extra `server.properties` entries. */
  properties?: Readonly<Record<string, string | number | boolean>>;
  /** JVM heap cap, default `512m`. */
  heap?: string;
  /**
   * Adds a PLAINTEXT listener meant to be reached through a TCP proxy (Toxiproxy): the broker
   * listens on `proxied.upstream` but advertises `proxied.advertised`, where the proxy must listen.
   * Kafka clients connect to the advertised address after bootstrap, so only this way does all
   * their traffic cross the proxy.
   */
  proxied?: boolean;
}

type KafkaPort = 'plaintext' | 'controller' | 'saslSsl' | 'mtls' | 'proxied' | 'proxiedAdvertised';

/** A running single-node Kafka (KRaft, broker and controller in one JVM) on 127.0.0.1. */
export interface KafkaPeer extends ProcessPeer<KafkaPort> {
  /** `127.0.0.1:port` of the PLAINTEXT listener. */
  readonly bootstrap: string;
  /** `127.0.0.1:port` of the SASL_SSL listener, when started with `tls`. */
  readonly saslSslBootstrap: string | undefined;
  /** `127.0.0.1:port` of the TLS listener that requires a client certificate, when started with `tls`. */
  readonly mtlsBootstrap: string | undefined;
  readonly users: readonly KafkaUser[];
  /** With `proxied`: where the broker listens, and where a proxy in front of it must listen. */
  readonly proxied:
    { upstream: { host: string; port: number }; advertised: { host: string; port: number } } | undefined;
}

/** The jars and `java`, or why the peer cannot run (for `requirePeer('kafka', kafkaInstallation)`). */
export function kafkaInstallation(): { java: string; classpath: string } | { missing: string } {
  const home = join(peersDir(), `kafka-${KAFKA_VERSION}`);
  if (!existsSync(join(home, '.complete')))
    return { missing: `Apache Kafka ${KAFKA_VERSION} jars not found in ${home}; ${INSTALL_HINT}` };
  const java = findBinary('java', { env: 'BIFROST_JAVA' });
  if (!java) return { missing: `java (17+) not found; ${INSTALL_HINT}` };
  return { java, classpath: join(home, 'libs', '*') };
}

/** The broker config: KRaft combined mode, loopback listeners, single-replica internal topics. */
export function kafkaServerProperties(
  ctx: PeerContext<KafkaPort>,
  opts: {
    users: readonly KafkaUser[];
    partitions: number;
    tlsDir?: string;
    proxied?: boolean;
    extra?: KafkaOptions['properties'];
  },
): string {
  const { ports, host } = ctx;
  const listeners = [`PLAINTEXT://${host}:${ports.plaintext}`];
  const advertised = [...listeners];
  if (opts.proxied) {
    listeners.push(`PROXIED://${host}:${ports.proxied}`);
    advertised.push(`PROXIED://${host}:${ports.proxiedAdvertised}`);
  }
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${host}:${ports.controller}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map':
      'PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:PLAINTEXT',
    'log.dirs': join(ctx.dir, 'data'),
    'num.partitions': opts.partitions,
    'auto.create.topics.enable': true,
    // One node: internal topics with one replica and one partition, and no rebalance delay.
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'num.network.threads': 2,
    'num.io.threads': 2,
  };
  if (opts.tlsDir) {
    const secure = [`SASL_SSL://${host}:${ports.saslSsl}`, `MTLS://${host}:${ports.mtls}`];
    listeners.push(...secure);
    advertised.push(...secure);
    const plainUsers = opts.users.map((u) => `user_${u.username}="${u.password}"`).join(' ');
    Object.assign(props, {
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
      'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      // PEM stores (Kafka 2.7+): the keystore file holds the PKCS#8 key followed by the certificate chain.
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': join(opts.tlsDir, 'keystore.pem'),
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': join(opts.tlsDir, 'ca.pem'),
      'listener.name.sasl_ssl.ssl.client.auth': 'none',
      'listener.name.mtls.ssl.client.auth': 'required',
    });
  }
  props.listeners = [...listeners, `CONTROLLER://${host}:${ports.controller}`].join(',');
  props['advertised.listeners'] = advertised.join(',');
  Object.assign(props, opts.extra);
  return (
    Object.entries(props)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join('\n') + '\n'
  );
}

const LOG4J = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.org.apache.kafka.clients=WARN',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
].join('\n');

/**
 * Starts Apache Kafka in KRaft mode (one JVM, broker + controller) from the jars
 * `scripts/peers/kafka.sh` fetched: a PLAINTEXT listener, and with `tls` a SASL_SSL listener
 * (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 for `users`) and an mTLS listener, with `proxied` a
 * listener to put a fault proxy in front of. Storage is formatted
 * with a random cluster id; `restart()` / `stop()` + `start()` keep the data. Throws (with the
 * install hint) when the jars or java are missing; gate tests with
 * `requirePeer('kafka', kafkaInstallation)`.
 *
 * @example
 * const tls = createTlsFixture();
 * const kafka = await startKafka({ tls: tls.serverTls() });
 * // kafka.bootstrap, kafka.saslSslBootstrap, kafka.mtlsBootstrap, kafka.users; await kafka.dispose();
 */
export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaPeer> {
  const found = kafkaInstallation();
  if ('missing' in found) throw new Error(`[testkit] ${found.missing}`);
  const users = opts.users ?? [{ username: 'bifrost', password: randomBytes(9).toString('base64url') }];
  const jvm = (dir: string) => [
    `-Xmx${opts.heap ?? '512m'}`,
    '-Xms64m',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
    '-cp',
    found.classpath,
  ];
  const peer = await startProcessPeer<KafkaPort>({
    name: 'kafka',
    command: found.java,
    ports: [
      'plaintext',
      'controller',
      ...(opts.tls ? (['saslSsl', 'mtls'] as const) : []),
      ...(opts.proxied ? (['proxied', 'proxiedAdvertised'] as const) : []),
    ],
    args: ({ dir }) => [...jvm(dir), 'kafka.Kafka', join(dir, 'server.properties')],
    startTimeoutMs: 90_000,
    stopTimeoutMs: 20_000,
    prepare(ctx) {
      let tlsDir: string | undefined;
      if (opts.tls) {
        tlsDir = join(ctx.dir, 'tls');
        mkdirSync(tlsDir);
        writeFileSync(join(tlsDir, 'keystore.pem'), `${opts.tls.keyPem.trim()}\n${opts.tls.certPem.trim()}\n`, {
          mode: 0o600,
        });
        writeFileSync(join(tlsDir, 'ca.pem'), opts.tls.caPem);
      }
      writeFileSync(
        join(ctx.dir, 'server.properties'),
        kafkaServerProperties(ctx, {
          users,
          partitions: opts.partitions ?? 3,
          tlsDir,
          proxied: opts.proxied,
          extra: opts.properties,
        }),
      );
      writeFileSync(join(ctx.dir, 'log4j.properties'), LOG4J);
      const scram = opts.tls
        ? users.flatMap((u) =>
            ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
              '--add-scram',
              `${m}=[name=${u.username},password=${u.password}]`,
            ]),
          )
        : [];
      // As Kafka's own Uuid.randomUuid does: an id starting with '-' would be read as an option.
      let clusterId: string;
      do clusterId = randomBytes(16).toString('base64url');
      while (clusterId.startsWith('-'));
      const format = spawnSync(
        found.java,
        [
          ...jvm(ctx.dir),
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId,
          '-c',
          join(ctx.dir, 'server.properties'),
          ...scram,
        ],
        {
          cwd: ctx.dir,
          encoding: 'utf8',
        },
      );
      if (format.status !== 0)
        throw new Error(`[testkit] kafka storage format failed:\n${format.stdout}${format.stderr}`);
    },
  });
  const at = (port: number | undefined) => (port === undefined ? undefined : `${peer.host}:${port}`);
  return Object.assign(peer, {
    bootstrap: `${peer.host}:${peer.ports.plaintext}`,
    saslSslBootstrap: at(opts.tls ? peer.ports.saslSsl : undefined),
    mtlsBootstrap: at(opts.tls ? peer.ports.mtls : undefined),
    users,
    proxied: opts.proxied
      ? {
          upstream: { host: peer.host, port: peer.ports.proxied },
          advertised: { host: peer.host, port: peer.ports.proxiedAdvertised },
        }
      : undefined,
  });
}
