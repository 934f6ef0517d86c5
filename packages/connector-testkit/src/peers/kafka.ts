import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import getPort from 'get-port';
import { INSTALL_HINT, findBinary, peersDir } from './binaries.js';
import { PEER_HOST, startProcessPeer, type PeerContext, type ProcessPeer } from './process-peer.js';
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

/** Where one node stands in a multi-node KRaft cluster. */
export interface KafkaClusterMembership {
  /** `node.id`, 1..size. */
  nodeId: number;
  /** Nodes in the cluster (replicas of the internal topics and the default for new topics). */
  size: number;
  /** `controller.quorum.voters`: `id@host:port` of every node's controller listener. */
  voters: string;
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

/** The broker config: KRaft combined mode, loopback listeners, internal topics replicated to every node. */
export function kafkaServerProperties(
  ctx: PeerContext<KafkaPort>,
  opts: {
    users: readonly KafkaUser[];
    partitions: number;
    tlsDir?: string;
    proxied?: boolean;
    extra?: KafkaOptions['properties'];
    /** Membership of a multi-node cluster (see {@link startKafkaCluster}); default a cluster of one. */
    cluster?: KafkaClusterMembership;
  },
): string {
  const { ports, host } = ctx;
  const replicas = opts.cluster?.size ?? 1;
  const listeners = [`PLAINTEXT://${host}:${ports.plaintext}`];
  const advertised = [...listeners];
  if (opts.proxied) {
    listeners.push(`PROXIED://${host}:${ports.proxied}`);
    advertised.push(`PROXIED://${host}:${ports.proxiedAdvertised}`);
  }
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': opts.cluster?.nodeId ?? 1,
    'controller.quorum.voters': opts.cluster?.voters ?? `1@${host}:${ports.controller}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map':
      'PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:PLAINTEXT',
    'log.dirs': join(ctx.dir, 'data'),
    'num.partitions': opts.partitions,
    'auto.create.topics.enable': true,
    // Internal topics with a replica per node (one, alone) and one partition, and no rebalance delay.
    'offsets.topic.replication.factor': replicas,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': replicas,
    'transaction.state.log.min.isr': Math.min(2, replicas),
    'default.replication.factor': replicas,
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
  if (opts.cluster) {
    // A killed node is fenced, and its partitions led elsewhere, within seconds rather than the default 9 s.
    props['broker.session.timeout.ms'] = 3_000;
    props['broker.heartbeat.interval.ms'] = 500;
  }
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
  return startKafkaNode(opts, randomClusterId());
}

/** One KRaft node: alone, or one of a cluster when `node` is given (its ports fixed in advance). */
async function startKafkaNode(
  opts: KafkaOptions,
  clusterId: string,
  node?: { membership: KafkaClusterMembership; ports: { plaintext: number; controller: number } },
): Promise<KafkaPeer> {
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
    name: node ? `kafka-${node.membership.nodeId}` : 'kafka',
    command: found.java,
    ...(node && { fixedPorts: node.ports }),
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
          cluster: node?.membership,
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

/** A random KRaft cluster id; as Kafka's own Uuid.randomUuid does, never one starting with '-' (read as an option). */
function randomClusterId(): string {
  let id: string;
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  return id;
}

export interface KafkaClusterOptions {
  /** Nodes, each broker and controller in one JVM (default 3). */
  size?: number;
  /** JVM heap cap per node, default `256m`. */
  heap?: string;
  /** Partitions of auto-created topics (default 3). */
  partitions?: number;
  /** Extra `server.properties` entries of every node. */
  properties?: KafkaOptions['properties'];
}

/** A running multi-node Kafka cluster (KRaft, every node broker and controller) on 127.0.0.1. */
export interface KafkaCluster {
  /** The nodes; `nodes[i]` has `node.id` `i + 1`. Kill one with `kill()` (SIGKILL), bring it back with `start()`. */
  readonly nodes: readonly KafkaPeer[];
  /** Every node's PLAINTEXT `host:port`, comma-separated (a connector `endpoint`). */
  readonly bootstrap: string;
  /** The node with this `node.id` (throws for an unknown id). */
  node(id: number): KafkaPeer;
  /** Stops every node and removes their directories. */
  dispose(): Promise<void>;
}

/**
 * Starts a Kafka cluster of `size` nodes (default 3) from the jars `scripts/peers/kafka.sh` fetched:
 * each node a JVM running broker and controller (a controller quorum of all nodes, so it survives
 * the loss of a minority), one PLAINTEXT listener each on a random loopback port, its own temp dir,
 * internal topics and new topics replicated to every node. A killed node is fenced within about 3 s.
 *
 * @example
 * const cluster = await startKafkaCluster();
 * await createKafkaTopic(cluster.bootstrap, 't', { config: { 'min.insync.replicas': '2' } });
 * // find the leader with kafkajs' admin.fetchTopicMetadata, then: await cluster.node(leader).kill();
 * await cluster.dispose();
 */
export async function startKafkaCluster(opts: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const size = opts.size ?? 3;
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  // Every node must know every controller's address before any starts: ports are chosen up front.
  const ports: Array<{ plaintext: number; controller: number }> = [];
  const taken = new Set<number>();
  const freshPort = async () => {
    let port: number;
    do port = await getPort({ host: PEER_HOST });
    while (taken.has(port));
    taken.add(port);
    return port;
  };
  for (let i = 0; i < size; i++) ports.push({ plaintext: await freshPort(), controller: await freshPort() });
  const voters = ids.map((id, i) => `${id}@${PEER_HOST}:${ports[i]!.controller}`).join(',');
  const clusterId = randomClusterId();
  const nodeOptions: KafkaOptions = {
    heap: opts.heap ?? '256m',
    ...(opts.partitions !== undefined && { partitions: opts.partitions }),
    ...(opts.properties && { properties: opts.properties }),
  };
  // All at once: a node is ready only when a quorum of controllers is up.
  const started = await Promise.allSettled(
    ids.map((id, i) =>
      startKafkaNode(nodeOptions, clusterId, { membership: { nodeId: id, size, voters }, ports: ports[i]! }),
    ),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await dispose();
    throw failed.reason;
  }
  return {
    nodes,
    bootstrap: nodes.map((n) => n.bootstrap).join(','),
    node(id) {
      const found = nodes[id - 1];
      if (!found) throw new Error(`[testkit] kafka cluster has no node ${id} (nodes 1..${size})`);
      return found;
    },
    dispose,
  };
}
