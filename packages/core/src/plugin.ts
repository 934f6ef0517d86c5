import type { z } from 'zod';
import type { DataPoint } from './data-point.js';
import type { TlsMaterial } from './tls/types.js';

/** Version of the plugin contract this core implements; plugins declare a compatible semver range. */
export const PLUGIN_API_VERSION = '2.0.0';

/** Brand that marks an object made by {@link defineConnector} / {@link defineSource} (checked at load, not `instanceof`). */
export const PLUGIN_BRAND = Symbol.for('bifrost.plugin');

/** Structured logger handed to plugins; pino loggers satisfy it. */
export interface Logger {
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** What the host gives a connector or source when it creates one. */
export interface PluginContext {
  /** The instance name from the config, e.g. `plant-a`. */
  name: string;
  /** Logger bound to `{ connector: 'type:name' }`. */
  logger: Logger;
  /**
   * TLS files named in the config, loaded and checked by the host; absent when TLS is off. The host
   * may rotate the certificates while running (the gateway watches the files): its properties then
   * return the new material. Read `ctx.tls` (and its properties) in each `connect()`, not once in
   * `create`, so a reconnect uses the current certificates.
   */
  tls?: TlsMaterial;
  /** Aborted when the host shuts the instance down. */
  signal: AbortSignal;
  /**
   * True when this instance is a connection test (`bifrost test-connection`, `POST
   * /api/cloud/connectors/{name}/test`), possibly beside the running instance of the same config: it
   * connects, probes and closes, and writes nothing. Connect with an identity that cannot take over
   * the running one's session (an MQTT client id of its own, a clean session). Unset for running
   * instances, and by hosts older than this field.
   */
  probe?: boolean;
}

/** Static facts a connector declares so the host can batch and order for it. */
export interface ConnectorCapabilities {
  /**
   * `per-device`: a device's points must arrive in order. The host hashes devices onto
   * `maxInFlight` streams and keeps one batch in flight per stream.
   */
  ordering: 'none' | 'per-device';
  /** Largest batch `write` accepts; the host never leases more (a larger `batch_size` is a startup warning). */
  maxBatch: number;
  /**
   * Largest batch payload, in bytes as {@link ConnectorDefinition.pointBytes} measures them; the
   * host cuts batches so none exceeds it (a single point over it is still written alone, and the
   * connector refuses it with a `PayloadError`). Unset: no byte limit.
   */
  maxBatchBytes?: number;
  /**
   * Batches in flight when the config sets none (`max_in_flight`); unset: the host's default, 2. For
   * a peer that serves concurrent requests well (an HTTP endpoint), where two would leave most of
   * the connections the connector opens idle.
   */
  defaultMaxInFlight?: number;
}

/** Result of an optional active health probe. */
export interface HealthProbe {
  ok: boolean;
  detail?: string;
}

/**
 * What `write` may resolve to instead of nothing: facts the host cannot see, such as the payload
 * bytes put on the wire (reported as `bytesSent` in health and `bifrost_cloud_bytes_sent_total`).
 */
export interface WriteReceipt {
  bytes?: number;
}

/** What the host passes to each {@link Connector.write}. */
export interface WriteOptions {
  /**
   * Aborted when the host gives up on this write (its `timeout` passed) or the gateway shuts down.
   * Cancel the client call, or drop the connection, so that no late acknowledgement is taken for
   * points the host will write again.
   */
  signal: AbortSignal;
}

/**
 * A live connection to one platform. Lifecycle:
 * 1. `create` (in the definition) validates and builds: no I/O.
 * 2. `connect()` opens the connection; the host calls it again after any failure, so it must be
 *    safe to call repeatedly (close what is left of an old connection first).
 * 3. `write(batch, { signal })` resolves only when the remote side acknowledged **every** point of
 *    the batch (PUBACK, COMMIT, acks=all, confirm, HTTP 204); otherwise it throws a classified error
 *    from `./errors` (unclassified throws are treated as transient). Never report success you did
 *    not get. It honours `signal` (see {@link WriteOptions}). It may resolve to a
 *    {@link WriteReceipt} (payload bytes) for the host's metrics. The host has already cut the batch
 *    to `maxBatch` points and `maxBatchBytes`; a connector does not re-split it.
 * 4. `close()` releases everything; idempotent.
 */
export interface Connector {
  connect(): Promise<void>;
  write(batch: readonly DataPoint[], options: WriteOptions): Promise<void | WriteReceipt>;
  close(): Promise<void>;
  /**
   * This instance's byte limit per batch when it depends on the config (e.g. a configured maximum
   * message size); overrides `capabilities.maxBatchBytes`.
   */
  readonly maxBatchBytes?: number;
  /**
   * This instance's ordering when it depends on the config (e.g. ordering keys only when asked for);
   * overrides `capabilities.ordering`. `none` lets the host keep whole batches in flight instead of
   * one batch per device stream.
   */
  readonly ordering?: ConnectorCapabilities['ordering'];
  /** Optional cheap probe run every `health_check_interval`; throwing counts as unhealthy. */
  healthCheck?(): Promise<HealthProbe>;
}

/** The default export of a connector plugin package. */
export interface ConnectorDefinition<S extends z.ZodType = z.ZodType> {
  readonly [PLUGIN_BRAND]: 'connector';
  /** Lowercase noun naming the protocol or service, e.g. `mqtt`. */
  readonly type: string;
  /** Plugin contract version the plugin was built against. */
  readonly api: string;
  /** zod schema of `provider_config` plus connector-level fields; descriptions and defaults feed the docs. */
  readonly configSchema: S;
  readonly capabilities: ConnectorCapabilities;
  /**
   * Payload bytes of one point as this connector will send it, for `maxBatchBytes`. Default:
   * {@link estimatePointBytes} (its JSON length).
   */
  readonly pointBytes: (point: DataPoint) => number;
  /**
   * Other names users may write for the connector-level `endpoint` (e.g. MQTT's `broker`, InfluxDB's
   * `url`); the host maps the first one set onto `endpoint` before the schema sees the config.
   */
  readonly endpointAliases: readonly string[];
  create(config: z.output<S>, ctx: PluginContext): Connector;
}

/** Emits points into the gateway; resolves when they are durably queued (backpressure). */
export type Emit = (
  points: Array<Partial<DataPoint> & Pick<DataPoint, 'deviceId' | 'tagName' | 'value'>>,
) => Promise<void>;

/** A running source of points. `start` must return promptly; `stop` ends production and resolves when done. */
export interface Source {
  start(emit: Emit): Promise<void>;
  stop(): Promise<void>;
}

/** The default export of a source plugin package. */
export interface SourceDefinition<S extends z.ZodType = z.ZodType> {
  readonly [PLUGIN_BRAND]: 'source';
  readonly type: string;
  readonly api: string;
  readonly configSchema: S;
  create(config: z.output<S>, ctx: PluginContext): Source;
}

const TYPE_RE = /^[a-z][a-z0-9-]*$/;

function checkType(type: string): void {
  if (!TYPE_RE.test(type))
    throw new TypeError(`[bifrost] plugin type "${type}" must be a lowercase noun like "mqtt" or "aws-iot"`);
}

/** Declares a connector plugin. Use as the package's default export. */
/**
 * A point's payload bytes as the host estimates them: its JSON length (ASCII-exact; a non-ASCII
 * character counts once, so connectors with tight byte limits and non-ASCII names pass their own
 * `pointBytes`).
 */
export function estimatePointBytes(point: DataPoint): number {
  return JSON.stringify(point).length;
}

/** Declares a connector plugin. Use as the package's default export. */
export function defineConnector<S extends z.ZodType>(def: {
  type: string;
  configSchema: S;
  capabilities?: Partial<ConnectorCapabilities>;
  pointBytes?: (point: DataPoint) => number;
  endpointAliases?: readonly string[];
  create(config: z.output<S>, ctx: PluginContext): Connector;
}): ConnectorDefinition<S> {
  checkType(def.type);
  const capabilities = { ordering: 'none' as const, maxBatch: 1000, ...def.capabilities };
  if (!(capabilities.maxBatch >= 1)) throw new TypeError(`[bifrost] plugin ${def.type}: maxBatch must be at least 1`);
  return Object.freeze({
    [PLUGIN_BRAND]: 'connector' as const,
    type: def.type,
    api: PLUGIN_API_VERSION,
    configSchema: def.configSchema,
    capabilities: Object.freeze(capabilities),
    pointBytes: def.pointBytes ?? estimatePointBytes,
    endpointAliases: Object.freeze([...(def.endpointAliases ?? [])]),
    create: (config: z.output<S>, ctx: PluginContext) => def.create(config, ctx),
  });
}

/** Declares a source plugin. Use as the package's default export. */
export function defineSource<S extends z.ZodType>(def: {
  type: string;
  configSchema: S;
  create(config: z.output<S>, ctx: PluginContext): Source;
}): SourceDefinition<S> {
  checkType(def.type);
  return Object.freeze({
    [PLUGIN_BRAND]: 'source' as const,
    type: def.type,
    api: PLUGIN_API_VERSION,
    configSchema: def.configSchema,
    create: (config: z.output<S>, ctx: PluginContext) => def.create(config, ctx),
  });
}

/**
 * Whether a plugin built against contract version `pluginApi` runs on this host: the same major
 * version, and not newer than the host's.
 */
export function isApiCompatible(pluginApi: string, hostApi: string = PLUGIN_API_VERSION): boolean {
  const parse = (v: string) => /^(\d+)\.(\d+)\.(\d+)/.exec(v)?.slice(1).map(Number);
  const plugin = parse(pluginApi);
  const host = parse(hostApi);
  if (!plugin || !host) return false;
  const [pMajor = 0, pMinor = 0] = plugin;
  const [hMajor = 0, hMinor = 0] = host;
  return pMajor === hMajor && pMinor <= hMinor;
}

export function isConnectorDefinition(x: unknown): x is ConnectorDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PLUGIN_BRAND] === 'connector';
}

export function isSourceDefinition(x: unknown): x is SourceDefinition {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[PLUGIN_BRAND] === 'source';
}
