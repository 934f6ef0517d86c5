import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  PartialWriteError,
  TransientError,
  classifyError,
  type BifrostError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type WriteOptions,
  type WriteReceipt,
} from '@bifrost/core';
import type { IClientOptions, IConnackPacket, IDisconnectPacket, MqttClient } from 'mqtt';
import {
  DEFAULT_CHANNEL_TOPIC,
  DEFAULT_TOPIC,
  SECURE_SCHEMES,
  brokerUrlOf,
  maxInflightOf,
  type MqttConfig,
} from './config.js';
import { buildMessages, type MessageFormat } from './messages.js';
import { classifyConnectError } from './mqtt-errors.js';
import { PublishWindow, type OutgoingMessage } from './publish-window.js';
import { TopicResolver } from './topic.js';
import { openClient } from './transport.js';

/** MQTT 5 session lifetime asked for when `clean_session` is false (MQTT 5 ends a session at disconnect otherwise). */
export const PERSISTENT_SESSION_EXPIRY_S = 86_400;

/** The error a write cancelled by the host's signal rejects with (transient: the host retries it). */
function abortedError(signal: AbortSignal): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown); connection dropped', {
    code: 'BIFROST_ERR_MQTT_WRITE_CANCELLED',
    cause: signal.reason,
  });
}

/** UTF-8 bytes of the messages' payloads. */
function payloadBytes(messages: readonly OutgoingMessage[]): number {
  let bytes = 0;
  for (const m of messages) bytes += Buffer.byteLength(m.payload);
  return bytes;
}

/** Builds mqtt.js client options from the config and the host's TLS material (no I/O). */
export function clientOptions(config: MqttConfig, ctx: Pick<PluginContext, 'tls'>, clientId: string): IClientOptions {
  const tls = ctx.tls;
  // mqtt.js hands every option to tls.connect(), `passphrase` included, though its type omits it.
  const options: IClientOptions & { passphrase?: string } = {
    clientId,
    protocolVersion: config.protocol_version,
    clean: config.clean_session,
    keepalive: config.keepalive_s,
    connectTimeout: config.connect_timeout_ms,
    // The host schedules reconnects (with backoff and jitter) by calling connect() again.
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
    // mqtt-packet's number cache preallocates 65,536 two-byte Buffers (~7 MB of heap) on the first
    // packet written; without it each packet id costs one 2-byte Buffer, not measurable in the mqtt
    // bench. The switch is global to the mqtt-packet module, which an embedded aedes broker shares.
    writeCache: false,
  };
  if (config.username !== undefined) options.username = config.username;
  if (config.password !== undefined) options.password = config.password;
  if (config.protocol_version === 5 && !config.clean_session)
    options.properties = { sessionExpiryInterval: PERSISTENT_SESSION_EXPIRY_S };
  if (tls) {
    options.rejectUnauthorized = tls.rejectUnauthorized;
    if (tls.ca !== undefined) options.ca = tls.ca;
    if (tls.cert !== undefined) options.cert = tls.cert;
    if (tls.key !== undefined) options.key = tls.key;
    if (tls.passphrase !== undefined) options.passphrase = tls.passphrase;
    if (tls.servername !== undefined) options.servername = tls.servername;
  }
  return options;
}

/**
 * A client id unique per process and within the 23 characters every MQTT 3.1.1 broker must accept:
 * `bifrost-` + up to 6 characters of the instance name + 8 random hex digits.
 */
export function defaultClientId(name: string): string {
  return `bifrost-${name.replace(/[^0-9a-zA-Z]/g, '').slice(0, 6)}-${randomBytes(4).toString('hex')}`;
}

/**
 * Publishes points to an MQTT 3.1.1 / 5 broker with mqtt.js. A write resolves only after every
 * PUBACK (QoS 1) or PUBCOMP (QoS 2); messages of a batch are pipelined, up to `max_inflight` (or the
 * broker's Receive Maximum) awaiting acknowledgement at once. mqtt.js never reconnects on its own:
 * a lost connection fails the writes in flight and the host calls {@link connect} again.
 */
export class MqttConnector implements Connector {
  private client: MqttClient | undefined;
  /** Why the current connection is unusable; cleared by a successful connect. */
  private broken: BifrostError | undefined;
  /** The broker's Receive Maximum and Maximum Packet Size from the last CONNACK (MQTT 5). */
  private serverLimits: { receiveMaximum?: number; maximumPacketSize?: number } = {};
  private readonly inflight = new Set<PublishWindow>();
  /** Packets received on the current connection (any kind): a sign of life for a cancelled write. */
  private packetsReceived = 0;
  private readonly topics: TopicResolver;
  private readonly url: URL;
  private readonly clientId: string;
  private readonly maxInflight: number;

  constructor(
    private readonly config: MqttConfig,
    private readonly ctx: PluginContext,
  ) {
    this.url = brokerUrlOf(config);
    const scheme = this.url.protocol.slice(0, -1).toLowerCase();
    if (ctx.tls && !SECURE_SCHEMES.has(scheme)) {
      throw new ConfigError(
        `endpoint: TLS is enabled but the broker URL is ${scheme}://; use mqtts:// (or tls://, wss://)`,
        { code: 'BIFROST_ERR_MQTT_TLS_SCHEME' },
      );
    }
    const channelsSet =
      config.data_topic !== undefined || config.event_topic !== undefined || config.alarm_topic !== undefined;
    const data = config.data_topic ?? 'data';
    try {
      this.topics = new TopicResolver(
        config.topic ?? (channelsSet ? DEFAULT_CHANNEL_TOPIC : DEFAULT_TOPIC),
        config.topic_prefix,
        {
          data,
          event: config.event_topic ?? data,
          alarm: config.alarm_topic ?? data,
        },
      );
    } catch (err) {
      throw classifyError(err);
    }
    // A connection test beside the running instance must not take over its client id (the broker
    // would drop the live connection) nor, with a clean session, wipe its persistent session.
    this.clientId = ctx.probe ? defaultClientId(ctx.name) : (config.client_id ?? defaultClientId(ctx.name));
    this.maxInflight = maxInflightOf(config);
  }

  async connect(): Promise<void> {
    this.dropClient(new TransientError('reconnecting', { code: 'BIFROST_ERR_MQTT_RECONNECT' }))?.end(true);
    const config = this.ctx.probe ? { ...this.config, clean_session: true } : this.config;
    const client = openClient(this.url, clientOptions(config, this.ctx, this.clientId));
    // Held at once so a connect the host gave up on (timeout) is ended by the next connect() or close().
    this.client = client;
    // mqtt.js throws 'error' events nobody listens to; this one outlives the per-phase listeners.
    client.on('error', (err) => this.ctx.logger.debug({ err: err.message }, 'mqtt client error'));
    try {
      const connack = await this.awaitConnack(client);
      this.serverLimits = {
        receiveMaximum: connack.properties?.receiveMaximum,
        maximumPacketSize: connack.properties?.maximumPacketSize,
      };
    } catch (err) {
      client.end(true);
      if (this.client === client) this.client = undefined;
      throw classifyConnectError(err);
    }
    if (this.client !== client) {
      client.end(true);
      throw new TransientError('connect superseded by a newer connect() or close()', {
        code: 'BIFROST_ERR_MQTT_CONNECT_SUPERSEDED',
      });
    }
    this.broken = undefined;
    this.watch(client);
  }

  /**
   * Resolves once every message was acknowledged (QoS 1/2), with the payload bytes published. When
   * `signal` aborts (the host's timeout or shutdown), the write's publish window fails at once: it
   * sends nothing more and ignores the PUBACKs still to come, so no late acknowledgement is taken
   * for points the host will write again (MQTT cannot withdraw a PUBLISH; a message the broker
   * already has is a duplicate, which its id lets subscribers drop). If the broker sent nothing at
   * all while the write ran, the link is presumed dead and the client is ended too (its other
   * writes fail and the host reconnects). A broker that is merely slow keeps its connection: ending
   * it would fail every other write in flight on it and, under load, turn one timeout into a
   * cascade of resends (seen with Mosquitto saving every change to disk).
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    if (signal.aborted) throw abortedError(signal);
    const client = this.usableClient();
    const { messages, poison } = buildMessages(batch, this.topics, this.messageFormat());
    const window = new PublishWindow(
      client,
      messages,
      Math.min(this.maxInflight, this.serverLimits.receiveMaximum ?? Infinity),
    );
    this.inflight.add(window);
    const packetsBefore = this.packetsReceived;
    const onAbort = () => {
      window.fail(abortedError(signal));
      if (this.client === client && this.packetsReceived === packetsBefore)
        this.dropClient(abortedError(signal))?.end(true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let refused;
    try {
      refused = (await window.done).rejected;
    } catch (err) {
      throw classifyError(err);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.inflight.delete(window);
    }
    const rejected = poison.length ? [...poison, ...refused] : refused;
    if (rejected.length === 0) return { bytes: payloadBytes(messages) };
    const bad = new Set(rejected.map((r) => r.id));
    throw new PartialWriteError(
      batch.filter((p) => !bad.has(p.id)).map((p) => p.id),
      rejected,
    );
  }

  async close(): Promise<void> {
    const client = this.dropClient(
      new TransientError('connection closed by the gateway', { code: 'BIFROST_ERR_MQTT_CLOSED' }),
    );
    if (client) await client.endAsync(true).catch(() => undefined);
  }

  healthCheck(): Promise<HealthProbe> {
    if (this.client?.connected && !this.broken) return Promise.resolve({ ok: true });
    return Promise.resolve({ ok: false, detail: this.broken?.message ?? 'not connected' });
  }

  private messageFormat(): MessageFormat {
    const limits = [this.config.max_packet_size, this.serverLimits.maximumPacketSize].filter(
      (n): n is number => n !== undefined,
    );
    const fmt: MessageFormat = {
      format: this.config.payload_format,
      qos: this.config.qos,
      retain: this.config.retain,
      idProperty: this.config.protocol_version === 5,
    };
    if (limits.length) fmt.maxPacketSize = Math.min(...limits);
    return fmt;
  }

  private usableClient(): MqttClient {
    if (this.broken) throw this.broken;
    if (!this.client?.connected)
      throw new TransientError('not connected to the broker', { code: 'BIFROST_ERR_MQTT_NOT_CONNECTED' });
    return this.client;
  }

  private awaitConnack(client: MqttClient): Promise<IConnackPacket> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        client.off('connect', onConnect);
        client.off('error', onError);
        client.off('close', onClose);
      };
      const onConnect = (connack: IConnackPacket) => {
        cleanup();
        resolve(connack);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onClose = () => {
        cleanup();
        // A TLS 1.3 server that refuses the client certificate may just close the connection, without an alert.
        const hint = this.ctx.tls?.cert
          ? ' (over TLS with a client certificate: the broker may have rejected the certificate)'
          : '';
        reject(
          new TransientError(`connection to ${this.url.host} closed before the broker answered CONNECT${hint}`, {
            code: 'BIFROST_ERR_MQTT_CLOSED',
          }),
        );
      };
      client.on('connect', onConnect);
      client.on('error', onError);
      client.on('close', onClose);
    });
  }

  /** After CONNACK: a broken connection fails the writes in flight at once instead of leaving them to the host's timeout. */
  private watch(client: MqttClient): void {
    let lastError: BifrostError | undefined;
    client.on('packetreceive', () => {
      if (this.client === client) this.packetsReceived++;
    });
    client.on('error', (err) => {
      lastError = classifyConnectError(err);
      this.ctx.logger.warn({ code: lastError.code }, lastError.message);
    });
    client.on('disconnect', (packet: IDisconnectPacket) => {
      const rc = packet.reasonCode ?? 0;
      const reason = packet.properties?.reasonString;
      lastError = new TransientError(
        `broker sent DISCONNECT (reason code 0x${rc.toString(16)}${reason ? `: ${reason}` : ''})`,
        {
          code: `BIFROST_ERR_MQTT_DISCONNECT_0x${rc.toString(16)}`,
        },
      );
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.broken =
        lastError ??
        new TransientError(`connection to ${this.url.host} lost`, {
          code: 'BIFROST_ERR_MQTT_CONNECTION_LOST',
        });
      this.failInflight(this.broken);
      this.ctx.logger.warn({ code: this.broken.code }, this.broken.message);
    });
  }

  private failInflight(err: BifrostError): void {
    for (const w of this.inflight) w.fail(err);
    this.inflight.clear();
  }

  /** Detaches the current client (if any) and fails its writes in flight; returns it for the caller to end. */
  private dropClient(reason: TransientError): MqttClient | undefined {
    const client = this.client;
    this.client = undefined;
    this.broken = undefined;
    this.failInflight(reason);
    return client;
  }
}
