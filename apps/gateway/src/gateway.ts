import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TlsMaterial, Emit, Logger as CoreLogger, Source } from '@bifrost/core';
import {
  createMemoryQueue,
  createPipeline,
  createRouter,
  manageConnectorTls,
  openSqliteQueue,
  probeConnector,
  resolveDeliveryOptions,
  parsePoints,
  QueueFullError,
  registerTlsExpiryGauge,
  type DurableQueue,
  type Pipeline,
} from '@bifrost/core/host';
import type { FastifyInstance } from 'fastify';
import type { Server as TlsServer } from 'node:tls';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startHeapTrimmer } from './heap-trimmer.js';
import type { Logger } from 'pino';
import type { EmbeddedBroker } from './broker/embedded-broker.js';
import { connectorLane, deliveryOptions, queueDirectory, queueOptions } from './config/host-settings.js';
import { hostFileChecks } from './config/file-checks.js';
import { ConfigFileError } from './config/issues.js';
import type { LoadedConfig } from './config/load.js';
import type { GatewayConfig } from './config/schema.js';
import { buildApi } from './http/server.js';
import { createLogger } from './logging.js';
import { GATEWAY_DIR } from './plugins/discovery.js';
import { embeddedUrlOf, resolvePlugins } from './plugins/resolve.js';
import { withOperationHealth } from './queue-health.js';
import { routingChecks, routerOptions } from './routing.js';
import { reconnectOnRotation, startConnectorTls } from './tls-rotation.js';

/** Version of this gateway package. */
export const GATEWAY_VERSION: string = (
  JSON.parse(readFileSync(join(GATEWAY_DIR, 'package.json'), 'utf8')) as { version: string }
).version;

/** File name of the durable queue inside `queue.path` / `buffer.persistent_path`. */
export const QUEUE_FILE = 'queue.db';

/** A running gateway. */
export interface RunningGateway {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:8080`. */
  apiUrl: string;
  /** URL of the embedded MQTT broker, when one runs. */
  brokerUrl?: string;
  pipeline: Pipeline;
  queue: DurableQueue;
  api: FastifyInstance;
  logger: Logger;
  /** Graceful stop: API and sources first, then in-flight batches within the shutdown deadline, then the queue. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Use this logger instead of one built from `log_level`. */
  logger?: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens the queue the config asks for: SQLite under the queue directory, or memory only. */
export async function openConfiguredQueue(
  cfg: GatewayConfig,
  baseDir: string,
  logger?: CoreLogger,
): Promise<{ queue: DurableQueue; file?: string }> {
  const dir = queueDirectory(cfg);
  const opts = queueOptions(cfg);
  if (dir === undefined) return { queue: createMemoryQueue(opts) };
  const abs = resolve(baseDir, dir);
  mkdirSync(abs, { recursive: true });
  const file = join(abs, QUEUE_FILE);
  return { queue: await openSqliteQueue(file, { ...opts, ...(logger ? { logger } : {}) }), file };
}

/**
 * Starts everything a config describes: the embedded broker, the queue, the pipeline with its
 * connectors, the REST API and the sources. Throws {@link ConfigFileError} listing every problem.
 */
export async function startGateway(loaded: LoadedConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  if (!loaded.config || loaded.issues.length) throw new ConfigFileError(loaded.issues, loaded.file);
  const cfg = loaded.config;
  const logger = opts.logger ?? createLogger(cfg.log_level, loaded.secrets);
  /** Shutdown steps, run in reverse order; a step may be sync or async, and one failing does not stop the rest. */
  const cleanups: Array<() => unknown> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, 'shutdown step failed');
      }
    }
  };

  try {
    let broker: EmbeddedBroker | undefined;
    if (cfg.embedded_broker.enabled) {
      // aedes is loaded only when the embedded broker is on.
      const { startEmbeddedBroker } = await import('./broker/embedded-broker.js');
      broker = await startEmbeddedBroker(cfg.embedded_broker.host, cfg.embedded_broker.port);
      const b = broker;
      cleanups.push(() => b.close());
    }

    const withConfig = loaded as LoadedConfig & { config: GatewayConfig };
    const resolved = await resolvePlugins(withConfig, { embeddedUrl: embeddedUrlOf(cfg, broker?.port) });
    const issues = [
      ...resolved.issues,
      ...routingChecks(withConfig, resolved.issues),
      ...(await hostFileChecks(withConfig)),
    ];
    if (issues.length) throw new ConfigFileError(issues, loaded.file);

    const opened = await openConfiguredQueue(cfg, loaded.baseDir, logger);
    const queue = withOperationHealth(opened.queue);
    const queueFile = opened.file;
    const volatile = Object.entries(cfg.cloud.connectors)
      .filter(([, c]) => c.enabled && c.disk_persistent === false)
      .map(([n]) => n);
    if (queueFile && volatile.length)
      logger.warn(
        `disk_persistent: false on ${volatile.join(', ')}: the queue is one SQLite file per gateway, so their points are on disk too (set queue.memory_only: true for a memory-only gateway)`,
      );
    cleanups.push(() => queue.close());

    const registry = new Registry();
    const tlsGauge = registerTlsExpiryGauge(registry);
    const connectors = await Promise.all(
      resolved.connectors.map(async (c) => {
        const spec = {
          name: c.name,
          definition: c.definition,
          config: c.config,
          delivery: deliveryOptions(cfg, c.entry),
          lane: connectorLane(c.entry),
        };
        if (!c.entry.tls_enabled) return spec;
        // Rotated certificate files are picked up without a restart: the connector reconnects with them.
        const tls = await startConnectorTls(c.entry, loaded.baseDir, {
          connector: `${c.definition.type}:${c.name}`,
          logger,
          gauge: tlsGauge,
        });
        cleanups.push(() => tls.close());
        return { ...spec, definition: reconnectOnRotation(c.definition, tls), tls: tls.material };
      }),
    );
    const pipeline = createPipeline({
      queue,
      router: createRouter(routerOptions(cfg)),
      logger,
      connectors,
      registry,
    });
    // Process metrics (RSS, CPU, event-loop lag, GC) beside the pipeline's, on the same /metrics.
    collectDefaultMetrics({ register: pipeline.registry, prefix: 'bifrost_' });
    const trimmer = startHeapTrimmer();
    cleanups.push(() => trimmer.stop());
    let accepting = false;
    pipeline.start();
    cleanups.push(async () => {
      const { released } = await pipeline.stop({ deadlineMs: cfg.shutdown_timeout });
      const left = Object.values(released).reduce((a, b) => a + b, 0);
      if (left) logger.info({ released }, `${left} in-flight point(s) stay queued for the next start`);
    });

    // The API's certificate rotates without a restart too: the HTTPS server swaps its secure context.
    const apiTls =
      cfg.api.tls &&
      (await manageConnectorTls({
        connector: 'api',
        files: {
          cert_file: resolve(loaded.baseDir, cfg.api.tls.cert_file),
          key_file: resolve(loaded.baseDir, cfg.api.tls.key_file),
          ca_file: cfg.api.tls.ca_file === undefined ? undefined : resolve(loaded.baseDir, cfg.api.tls.ca_file),
          verify_client_chain: false, // ca_file is the CA of API clients, not of the server certificate
        },
        logger,
        gauge: tlsGauge,
        onRotate: (material) => (api.server as unknown as TlsServer).setSecureContext(httpsOptions(material)),
      }));
    if (apiTls) cleanups.push(() => apiTls.close());
    const api = buildApi({
      pipeline,
      queue,
      connectorConfigs: cfg.cloud.connectors,
      secrets: loaded.secrets,
      logger,
      token: cfg.api.token,
      bodyLimit: cfg.api.body_limit,
      maxIngestBytes: cfg.api.max_ingest_bytes,
      lineProtocol: { deviceTag: cfg.api.line_protocol.device_tag },
      ...(apiTls ? { https: httpsOptions(apiTls.material) } : {}),
      isAccepting: () => accepting,
      version: GATEWAY_VERSION,
      testConnection: (name) => {
        const c = connectors.find((spec) => spec.name === name);
        if (!c) return undefined;
        return probeConnector(c.definition, c.config, {
          name,
          logger: logger.child({ connector: `${c.definition.type}:${name}`, test: true }),
          ...('tls' in c ? { tls: c.tls } : {}),
          timeoutMs: resolveDeliveryOptions(c.delivery, c.definition.capabilities, name).timeoutMs,
        });
      },
    });
    const apiPort = cfg.api.port ?? cfg.port;
    try {
      await api.listen({ host: cfg.api.host, port: apiPort });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      throw new Error(
        `[bifrost] api: ${cfg.api.host}:${apiPort} is already in use; set gateway.port (or api.port) to a free port`,
      );
    }
    cleanups.push(() => api.close());
    const addr = api.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : apiPort;
    const apiUrl = `${cfg.api.tls ? 'https' : 'http'}://${cfg.api.host.includes(':') ? `[${cfg.api.host}]` : cfg.api.host}:${port}`;

    const sources: Source[] = [];
    let stopping = false;
    /**
     * The emit function of one source: its points take the REST path's validation and id
     * assignment (`parsePoints`; invalid points reject the call, naming the field), get the
     * source's lane, and wait out a full queue.
     */
    const emitFor =
      (priority: number | undefined): Emit =>
      async (raw) => {
        const points = parsePoints(raw);
        if (priority !== undefined) for (const point of points) point.priority ??= priority;
        for (;;) {
          try {
            await pipeline.ingest(points);
            return;
          } catch (err) {
            // when_full: block is backpressure for sources: wait, then try the same points again.
            if (err instanceof QueueFullError && !stopping) await sleep(err.retryAfterMs);
            else throw err;
          }
        }
      };
    const sourceAbort = new AbortController();
    cleanups.push(async () => {
      stopping = true;
      sourceAbort.abort();
      await Promise.all(
        sources.map((s) => s.stop().catch((err) => logger.error({ err }, 'source did not stop cleanly'))),
      );
    });
    for (const s of resolved.sources) {
      const source = s.definition.create(s.config, {
        name: s.name,
        logger: logger.child({ source: `${s.definition.type}:${s.name}` }),
        signal: sourceAbort.signal,
      });
      await source.start(emitFor(s.entry.priority));
      sources.push(source);
    }
    accepting = true;

    const throughput = startThroughputLog(pipeline, logger, cfg.throughput_log_interval);
    cleanups.push(() => clearInterval(throughput));

    logger.info(`bifrost ${GATEWAY_VERSION} running`);
    for (const c of resolved.connectors)
      logger.info(
        `  connector ${c.name} (${c.plugin.name}@${c.plugin.version})${c.entry.endpoint ? ` -> ${c.entry.endpoint === 'embedded' ? broker?.url : c.entry.endpoint}` : ''}`,
      );
    for (const s of resolved.sources) logger.info(`  source    ${s.name} (${s.plugin.name}@${s.plugin.version})`);
    logger.info(`  queue     ${queueFile ?? 'memory only (lost on restart)'}`);
    logger.info(`  API       ${apiUrl}  (status page ${apiUrl}/, metrics ${apiUrl}/metrics)`);
    if (broker) {
      // Watch what the connectors publish to the embedded broker: their configured topic prefixes.
      const prefixes = new Set<string>();
      for (const c of resolved.connectors) {
        if (c.entry.endpoint !== 'embedded' || c.definition.type !== 'mqtt') continue;
        const prefix = (c.config as { topic_prefix?: unknown } | undefined)?.topic_prefix;
        prefixes.add(typeof prefix === 'string' && prefix ? prefix : 'bifrost');
      }
      const topics = [...(prefixes.size ? prefixes : ['#'])].map((p) => `-t '${p === '#' ? '#' : `${p}/#`}'`).join(' ');
      logger.info(`  broker    ${broker.url}  (watch: mosquitto_sub -p ${broker.port} ${topics} -v)`);
    }

    let stopped: Promise<void> | undefined;
    return {
      apiUrl,
      ...(broker ? { brokerUrl: broker.url } : {}),
      pipeline,
      queue,
      api,
      logger,
      stop: () => {
        accepting = false;
        return (stopped ??= cleanup());
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** HTTPS server options from loaded TLS material. */
function httpsOptions(material: TlsMaterial): { cert: string; key: string; ca?: string } {
  return { cert: material.cert!, key: material.key!, ...(material.ca ? { ca: material.ca } : {}) };
}

/** Logs one line per interval: points ingested and acknowledged per second, and what is queued. */
function startThroughputLog(pipeline: Pipeline, logger: Logger, intervalMs: number): NodeJS.Timeout | undefined {
  if (!intervalMs) return undefined;
  let prev = pipeline.metricsSnapshot();
  const timer = setInterval(() => {
    const now = pipeline.metricsSnapshot();
    const dt = (now.time - prev.time) / 1000;
    const sum = (s: typeof now, f: (c: (typeof now.connectors)[number]) => number) =>
      s.connectors.reduce((a, c) => a + f(c), 0);
    const sent = sum(now, (c) => c.sent) - sum(prev, (c) => c.sent);
    const ingested = sum(now, (c) => c.ingested) - sum(prev, (c) => c.ingested);
    const per = now.connectors
      .map(
        (c) =>
          `${c.name}: ${c.connected ? 'connected' : 'disconnected'}, breaker ${c.breaker}, ${c.queue.depth} queued`,
      )
      .join('; ');
    logger.info(
      `throughput: ${(ingested / dt).toFixed(0)} points/s in, ${(sent / dt).toFixed(0)} points/s delivered, ${sum(now, (c) => c.queue.depth)} queued (${per})`,
    );
    prev = now;
  }, intervalMs);
  timer.unref();
  return timer;
}
