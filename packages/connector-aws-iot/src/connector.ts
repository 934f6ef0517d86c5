import {
  ConfigError,
  PartialWriteError,
  abortable,
  TransientError,
  classifyError,
  type BifrostError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type RejectedPoint,
  type WriteOptions,
  type WriteReceipt,
} from '@bifrost/core';
import type * as SdkModule from 'aws-iot-device-sdk-v2';
import type { mqtt5 } from 'aws-iot-device-sdk-v2';
import type { AwsIotConfig } from './config.js';
import { MAX_BATCH_BYTES, MessageBuilder, type OutgoingMessage } from './messages.js';
import { PublishRateLimiter } from './rate-limiter.js';
import { ReasonCode, classifyConnectFailure, classifyPuback, classifyReasonCode } from './reason-codes.js';
import { ShadowReporter, type ShadowStatus } from './shadow.js';

/**
 * The CRT client's own reconnect backoff (with full jitter) after a connection was lost. Capped at
 * 5 s: the host's `connect()` waits for the client's next attempt, and its own backoff and breaker
 * pace longer outages; a 60 s cap left a gateway waiting up to a minute after the broker was back.
 */
export const RECONNECT_DELAY_MS = { min: 1_000, max: 5_000, resetAfterConnected: 30_000 } as const;

type Sdk = typeof SdkModule;
let sdk: Promise<Sdk> | undefined;

/**
 * aws-iot-device-sdk-v2 (and its native aws-crt addon), loaded when a connector of this type first
 * connects, so a gateway that has the plugin installed but does not use it never loads the addon.
 */
export function loadSdk(): Promise<Sdk> {
  return (sdk ??= import('aws-iot-device-sdk-v2'));
}

type Mqtt5Client = mqtt5.Mqtt5Client;

/** A message's outcome: acknowledged (undefined), refused for good (poison), or failing the write. */
type Verdict = undefined | { reason: string } | { error: BifrostError };

/** One connection attempt's outcome, from the client's events. */
type Attempt = { ok: true } | { ok: false; error: BifrostError };

/** The device certificate and key a client was built with, to notice rotated files. */
interface Identity {
  cert: string;
  key: string;
  ca: string | undefined;
}

function identityOf(ctx: PluginContext): Identity {
  const tls = ctx.tls;
  const cert = tls?.cert;
  const key = tls?.key;
  if (!tls || cert === undefined || key === undefined)
    throw new ConfigError(
      'AWS IoT needs mutual TLS: set tls_enabled: true with cert_file (the device certificate) and key_file (its private key), and ca_file (Amazon Root CA 1)',
      { code: 'BIFROST_ERR_AWS_IOT_TLS_REQUIRED' },
    );
  if (tls.passphrase !== undefined)
    throw new ConfigError('key_file must be an unencrypted key: the AWS IoT client takes no passphrase', {
      code: 'BIFROST_ERR_AWS_IOT_KEY_PASSPHRASE',
    });
  return { cert: String(cert), key: String(key), ca: tls.ca === undefined ? undefined : String(tls.ca) };
}

/** Builds the aws-iot-device-sdk-v2 MQTT 5 client config (no I/O). */
export function clientConfig(
  { iot, mqtt5 }: Sdk,
  config: AwsIotConfig,
  identity: Identity,
  clientId: string,
): mqtt5.Mqtt5ClientConfig {
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
    config.endpoint,
    identity.cert,
    identity.key,
  );
  // The builder offers ALPN x-amzn-mqtt-ca on every port, which AWS IoT needs on 443.
  builder.withPort(config.port);
  if (identity.ca !== undefined) builder.withCertificateAuthority(identity.ca);
  builder
    .withConnectProperties({
      clientId,
      keepAliveIntervalSeconds: config.keepalive_s,
      sessionExpiryIntervalSeconds: config.session_expiry_s,
    })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.RejoinAlways)
    .withRetryJitterMode(mqtt5.RetryJitterType.Full)
    .withMinReconnectDelayMs(RECONNECT_DELAY_MS.min)
    .withMaxReconnectDelayMs(RECONNECT_DELAY_MS.max)
    .withMinConnectedTimeToResetReconnectDelayMs(RECONNECT_DELAY_MS.resetAfterConnected)
    // The connector paces publishes itself (max_publish_rate, max_throughput_kib), with the
    // configured values rather than the client's fixed AWS defaults.
    .withExtendedValidationAndFlowControlOptions(mqtt5.ClientExtendedValidationAndFlowControl.None);
  return builder.build();
}

/**
 * Publishes points to AWS IoT Core with the aws-iot-device-sdk-v2 MQTT 5 client over mTLS. A write
 * resolves only after every PUBACK (QoS 1). The session is persistent (clean start off, a session
 * expiry), and after a lost connection the client reconnects on its own with jittered backoff and
 * resends the QoS 1 publishes still unacknowledged on the resumed session; writes started while it
 * is down fail at once, and the host's next `connect()` waits for that reconnect (or builds a new
 * client when the certificate files changed).
 */
export class AwsIotConnector implements Connector {
  /**
   * `messages: batch`: the host cuts batches to one 128 KB message. `point`: no byte cut (each
   * point is its own message, checked against the limit when built).
   */
  readonly maxBatchBytes: number | undefined;
  private client: mqtt5.Mqtt5Client | undefined;
  private identity: Identity | undefined;
  private connected = false;
  /** Why the connection is down, for health and for writes started meanwhile. */
  private down: BifrostError | undefined;
  /** Resolvers of `connect()` calls waiting for the client's next attempt. */
  private waiters: Array<(a: Attempt) => void> = [];
  /** PUBACKs received on the current client: a sign of life for a cancelled write. */
  private acks = 0;
  private readonly limiter: PublishRateLimiter;
  private readonly messages: MessageBuilder;
  private readonly clientId: string;
  private readonly shadow: ShadowReporter | undefined;

  constructor(
    private readonly config: AwsIotConfig,
    private readonly ctx: PluginContext,
  ) {
    try {
      this.messages = new MessageBuilder(config, config.messages);
    } catch (err) {
      throw classifyError(err);
    }
    this.maxBatchBytes = config.messages === 'batch' ? MAX_BATCH_BYTES : undefined;
    this.clientId = config.client_id ?? config.thing_name;
    this.limiter = new PublishRateLimiter(config.max_publish_rate, config.max_throughput_kib * 1024);
    this.shadow = config.shadow_update
      ? new ShadowReporter(config, {
          logger: ctx.logger.child({ shadow: true }),
          publish: (topic, payload) => this.publishShadow(topic, payload),
          subscribe: (topics) => this.subscribe(topics),
        })
      : undefined;
  }

  async connect(): Promise<void> {
    const identity = identityOf(this.ctx);
    const same =
      this.identity?.cert === identity.cert && this.identity.key === identity.key && this.identity.ca === identity.ca;
    if (this.client && same) {
      if (this.connected) return;
      // The client is reconnecting on its own (keeping its session); wait for its next attempt.
      const attempt = await new Promise<Attempt>((resolve) => this.waiters.push(resolve));
      if (!attempt.ok) throw attempt.error;
      return;
    }
    this.dropClient();
    const loaded = await loadSdk();
    let settings: mqtt5.Mqtt5ClientConfig;
    try {
      settings = clientConfig(loaded, this.config, identity, this.clientId);
    } catch (err) {
      throw new ConfigError(
        `the TLS material could not be loaded (${crtMessage(err as { error_name?: string })}): cert_file, key_file and ca_file must be PEM files, the key unencrypted`,
        { code: 'BIFROST_ERR_AWS_IOT_TLS_MATERIAL', cause: err },
      );
    }
    const client = new loaded.mqtt5.Mqtt5Client(settings);
    this.client = client;
    this.identity = identity;
    this.watch(client);
    const first = new Promise<Attempt>((resolve) => this.waiters.push(resolve));
    client.start();
    const attempt = await first;
    if (!attempt.ok) {
      // A refused certificate or policy does not heal by itself: stop the client's own retries
      // and let the host's breaker decide when to try again.
      if (attempt.error.kind !== 'transient' && this.client === client) this.dropClient();
      throw attempt.error;
    }
    this.shadow?.start();
  }

  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    if (signal.aborted) throw cancelled(signal);
    const client = this.usableClient();
    const { messages, poison } = this.messages.build(batch);
    const acksBefore = this.acks;
    const verdicts = abortable(
      this.publishAll(client, messages, signal),
      signal,
      () => cancelled(signal),
      () => {
        // No PUBACK at all while the write ran: the link is presumed dead; drop the client so
        // nothing is acknowledged late for points the host will write again.
        if (this.client === client && this.acks === acksBefore) this.dropClient();
      },
    );
    const refused: RejectedPoint[] = [];
    let bytes = 0;
    for (const [i, verdict] of (await verdicts).entries()) {
      const msg = messages[i]!;
      if (verdict === undefined) bytes += Buffer.byteLength(msg.payload);
      else if ('error' in verdict) throw verdict.error;
      else for (const id of msg.ids) refused.push({ id, reason: verdict.reason, kind: 'payload' });
    }
    const rejected = [...poison, ...refused];
    if (rejected.length === 0) {
      this.shadow?.observe(batch);
      return { bytes };
    }
    const bad = new Set(rejected.map((r) => r.id));
    const accepted = batch.filter((p) => !bad.has(p.id));
    this.shadow?.observe(accepted);
    throw new PartialWriteError(
      accepted.map((p) => p.id),
      rejected,
    );
  }

  /**
   * Hands every message to the client as the rate limiter allows; the client keeps at most the
   * broker's Receive Maximum unacknowledged on the wire and queues the rest natively. Resolves with
   * each message's verdict; rejects with the first client error (classified).
   */
  private async publishAll(client: Mqtt5Client, messages: readonly OutgoingMessage[], signal: AbortSignal) {
    const sends: Array<Promise<Verdict>> = [];
    for (const msg of messages) {
      const bytes = Buffer.byteLength(msg.payload);
      if (!this.limiter.tryTake(bytes)) await this.limiter.take(bytes);
      if (signal.aborted || this.client !== client) break;
      sends.push(this.send(client, msg));
    }
    if (sends.length < messages.length) {
      // Stopped before every message was handed to the client (the write was cancelled, or the
      // client went away while it waited for the rate limiter): the messages never sent have no
      // PUBACK, so the write fails and the host sends the batch again.
      await Promise.allSettled(sends);
      if (signal.aborted) throw cancelled(signal);
      throw new TransientError(
        `connection to AWS IoT lost during the write: ${messages.length - sends.length} of ${messages.length} messages not sent`,
        { code: 'BIFROST_ERR_AWS_IOT_CONNECTION_LOST' },
      );
    }
    try {
      return await Promise.all(sends);
    } catch (err) {
      throw classifyError(err);
    }
  }

  async close(): Promise<void> {
    await this.shadow?.stop();
    this.dropClient();
  }

  healthCheck(): Promise<HealthProbe> {
    const shadow = this.shadow ? `; shadow: ${describeShadow(this.shadow.status())}` : '';
    if (this.client && this.connected) return Promise.resolve({ ok: true, detail: `connected${shadow}` });
    return Promise.resolve({ ok: false, detail: `${this.down?.message ?? 'not connected'}${shadow}` });
  }

  /** The Device Shadow reporter's state (undefined unless `shadow_update`). */
  shadowStatus(): ShadowStatus | undefined {
    return this.shadow?.status();
  }

  /** Publishes one message; undefined when acknowledged, else the PUBACK's verdict. */
  private async send(client: Mqtt5Client, msg: OutgoingMessage): Promise<Verdict> {
    const puback = await client.publish({
      topicName: msg.topic,
      payload: msg.payload,
      qos: this.config.qos,
    });
    if (this.config.qos === 0) return undefined;
    // The SDK documents `undefined` for QoS 0 only; at QoS 1 no PUBACK is no acknowledgement, so the
    // message is sent again rather than taken as delivered.
    if (puback === undefined) {
      return {
        error: new TransientError('AWS IoT client completed a QoS 1 publish without a PUBACK', {
          code: 'BIFROST_ERR_AWS_IOT_NO_PUBACK',
        }),
      };
    }
    if (this.client === client) this.acks++;
    const verdict = classifyPuback(puback.reasonCode, puback.reasonString);
    if (verdict.ok) return undefined;
    return verdict.poison ? { reason: verdict.reason } : { error: verdict.error };
  }

  private async publishShadow(topic: string, payload: string): Promise<void> {
    const client = this.usableClient();
    await this.limiter.take(Buffer.byteLength(payload));
    const puback = await client.publish({ topicName: topic, payload, qos: 1 });
    if (puback && Number(puback.reasonCode) >= 0x80) {
      const verdict = classifyPuback(puback.reasonCode, puback.reasonString);
      if (!verdict.ok) throw verdict.poison ? new TransientError(verdict.reason) : verdict.error;
    }
  }

  private async subscribe(topics: readonly string[]): Promise<void> {
    const client = this.usableClient();
    const suback = await client.subscribe({
      subscriptions: topics.map((topicFilter) => ({ topicFilter, qos: 1 })),
    });
    const bad = suback.reasonCodes.map(Number).find((rc) => rc >= 0x80);
    if (bad !== undefined) throw classifyReasonCode(bad, `subscribing to ${topics.join(', ')} was refused`);
  }

  private usableClient(): mqtt5.Mqtt5Client {
    if (this.client && this.connected) return this.client;
    throw (
      this.down ??
      new TransientError('not connected to AWS IoT', {
        code: 'BIFROST_ERR_AWS_IOT_NOT_CONNECTED',
      })
    );
  }

  private settle(attempt: Attempt): void {
    for (const w of this.waiters.splice(0)) w(attempt);
  }

  private watch(client: mqtt5.Mqtt5Client): void {
    const host = `${this.config.endpoint}:${this.config.port}`;
    client.on('connectionSuccess', (e) => {
      if (this.client !== client) return;
      this.connected = true;
      this.down = undefined;
      if (e.settings.rejoinedSession) this.ctx.logger.debug({ clientId: this.clientId }, 'AWS IoT session resumed');
      this.settle({ ok: true });
      this.shadow?.connected();
    });
    client.on('connectionFailure', (e) => {
      if (this.client !== client) return;
      const rc: number | undefined = e.connack?.reasonCode;
      const error =
        rc !== undefined && rc >= 0x80
          ? classifyReasonCode(rc, `AWS IoT refused the connection`, e.connack?.reasonString)
          : classifyConnectFailure(e.error.error_name, crtMessage(e.error), host);
      this.down = error;
      this.settle({ ok: false, error });
    });
    client.on('messageReceived', (e) => {
      const payload = e.message.payload;
      if (this.client !== client || payload === undefined) return;
      const text = typeof payload === 'string' ? payload : Buffer.from(payload as ArrayBuffer).toString('utf8');
      this.shadow?.onMessage(e.message.topicName, text);
    });
    client.on('disconnection', (e) => {
      if (this.client !== client) return;
      this.connected = false;
      const rc: number | undefined = e.disconnect?.reasonCode;
      if (rc === ReasonCode.SESSION_TAKEN_OVER)
        this.ctx.logger.warn(
          { clientId: this.clientId },
          `AWS IoT ended the connection: another client connected with the same client id "${this.clientId}"; reconnecting with backoff (give each gateway its own client_id)`,
        );
      const ended =
        rc !== undefined && rc >= 0x80
          ? classifyReasonCode(rc, 'AWS IoT ended the connection', e.disconnect?.reasonString)
          : undefined;
      // Writes started while down fail with this; a payload verdict would dead-letter points that
      // had no part in it (the message that was too large is not known), so it counts as transient.
      this.down =
        ended && ended.kind !== 'payload'
          ? ended
          : new TransientError(`connection to ${host} lost: ${ended?.message ?? crtMessage(e.error)}`, {
              code: 'BIFROST_ERR_AWS_IOT_CONNECTION_LOST',
            });
      this.ctx.logger.warn({ code: this.down.code }, this.down.message);
    });
  }

  /** Stops and releases the current client; its pending publishes fail. */
  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    this.identity = undefined;
    this.connected = false;
    this.limiter.drain();
    this.settle({
      ok: false,
      error: new TransientError('connection closed by the gateway', { code: 'BIFROST_ERR_AWS_IOT_CLOSED' }),
    });
    if (!client) return;
    client.stop();
    client.close();
  }
}

/** The error a write cancelled by the host's signal rejects with (transient: the host retries it). */
function cancelled(signal: AbortSignal): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown)', {
    code: 'BIFROST_ERR_AWS_IOT_WRITE_CANCELLED',
    cause: signal.reason,
  });
}

function describeShadow(s: ShadowStatus): string {
  const last = s.lastError ? `, last error: ${s.lastError}` : '';
  return `${s.accepted} updates accepted, ${s.rejected} rejected, ${s.pendingDevices} devices pending${last}`;
}

/** The text of an error the CRT reported (its type omits the `Error` it is at run time). */
function crtMessage(err: { error_name?: string | undefined }): string {
  return (err as { message?: string }).message ?? err.error_name ?? 'unknown error';
}
