import {
  connect as amqpConnect,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';
import {
  CapacityError,
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  type BifrostError,
  type Connector,
  type DataPoint,
  type HealthProbe,
  type PluginContext,
  type RejectedPoint,
  type WriteOptions,
} from '@bifrost/core';
import { classifyAmqpError } from './amqp-errors.js';
import type { AmqpConfig } from './config.js';
import { toMessage } from './message.js';
import { compileRoutingKey, routingKeyProblem } from './routing-key.js';

/** How long the host should wait before retrying while the broker blocks publishers. */
const BLOCKED_RETRY_AFTER_MS = 1_000;

/** One write waiting for its confirms; failed at once when the connection breaks or is blocked. */
interface PendingWrite {
  fail(err: BifrostError): void;
}

/** Outcome of publishing one batch and collecting its confirms. */
interface Confirms {
  nacked: string[];
  /** Message id -> why the broker returned it (basic.return). */
  returned: Map<string, string>;
}

/** amqplib's error for a message the broker nacked (its other confirm error is 'channel closed'). */
const NACK_MESSAGE = /nacked/i;

/** A write whose channel closed before the broker confirmed its messages: transient, retried. */
function channelClosedError(cause: Error): TransientError {
  return new TransientError('channel closed before the broker confirmed the batch', {
    code: 'BIFROST_ERR_AMQP_CHANNEL_CLOSED',
    cause,
  });
}

/** The error a write cancelled by the host's signal rejects with (transient: the host retries it). */
function cancelledError(signal: AbortSignal): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown); connection closed', {
    code: 'BIFROST_ERR_AMQP_WRITE_CANCELLED',
    cause: signal.reason,
  });
}

/** Splits `endpoint` + overrides into amqplib's connect options (credentials never logged). */
export function connectOptions(config: AmqpConfig): Options.Connect {
  const url = new URL(config.endpoint);
  const protocol = url.protocol === 'amqps:' ? 'amqps' : 'amqp';
  const pathVhost = url.pathname.length > 1 ? url.pathname.slice(1) : undefined;
  return {
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : protocol === 'amqps' ? 5671 : 5672,
    username: config.username ?? (url.username ? decodeURIComponent(url.username) : undefined),
    password: config.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
    // amqplib unescapes the vhost it is given, so hand it the escaped form.
    vhost: config.vhost !== undefined ? encodeURIComponent(config.vhost) : pathVhost,
    heartbeat: config.heartbeat_s,
    frameMax: config.frame_max,
  };
}

/**
 * Publishes each point as one persistent JSON message on a confirm channel and resolves a write
 * only when the broker confirmed every message of it. Returned (unroutable) and nacked messages are
 * never reported as delivered.
 */
export class AmqpConnector implements Connector {
  private model: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  /** Why the connection is unusable (closed, channel error); cleared by `connect`. */
  private broken: BifrostError | undefined;
  /** The broker's flow-control reason while it blocks publishers. */
  private blockedReason: string | undefined;
  private readonly pending = new Set<PendingWrite>();
  private readonly returned = new Map<string, string>();
  private readonly routingKey: (p: DataPoint) => string;

  constructor(
    private readonly config: AmqpConfig,
    private readonly ctx: PluginContext,
  ) {
    this.routingKey = compileRoutingKey(config.routing_key);
    const secure = config.endpoint.toLowerCase().startsWith('amqps:');
    if (ctx.tls && !secure) {
      throw new ConfigError('endpoint: TLS is enabled but the endpoint is amqp://; use amqps://', {
        code: 'BIFROST_ERR_AMQP_TLS_SCHEME',
      });
    }
  }

  async connect(): Promise<void> {
    await this.close();
    let model: ChannelModel | undefined;
    try {
      model = await amqpConnect(connectOptions(this.config), this.socketOptions());
      this.watchConnection(model);
      const channel = await model.createConfirmChannel();
      this.watchChannel(channel);
      await this.prepareExchange(channel);
      this.model = model;
      this.channel = channel;
      this.broken = undefined;
      this.blockedReason = undefined;
      this.returned.clear();
    } catch (err) {
      await model?.close().catch(() => undefined);
      throw this.classify(err);
    }
  }

  /**
   * Resolves once the broker confirmed every message. When `signal` aborts (the host's timeout or
   * shutdown) the write fails at once and the connection is closed: a publish cannot be withdrawn,
   * and a confirm arriving later must not be taken for points the host will write again (a message
   * the broker already has is a duplicate, which its `message_id` lets consumers drop). Other writes
   * on the connection fail too and are retried after the host's reconnect.
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<void> {
    if (signal.aborted) throw cancelledError(signal);
    const channel = this.usableChannel();
    const poison: RejectedPoint[] = [];
    const publishable: Array<{ point: DataPoint; key: string }> = [];
    for (const point of batch) {
      const key = this.routingKey(point);
      const problem = routingKeyProblem(key);
      if (problem === undefined) publishable.push({ point, key });
      else poison.push({ id: point.id, reason: problem });
    }
    const confirms = publishable.length
      ? await this.publishAll(channel, publishable, signal)
      : { nacked: [], returned: new Map<string, string>() };
    this.settle(batch, poison, publishable.length, confirms);
  }

  async close(): Promise<void> {
    await this.dropConnection(
      new TransientError('connection closed by the gateway', { code: 'BIFROST_ERR_AMQP_CLOSED' }),
    );
  }

  /** Detaches the connection, fails the writes waiting on it with `reason`, and closes it. */
  private async dropConnection(reason: BifrostError): Promise<void> {
    const model = this.model;
    this.model = undefined;
    this.channel = undefined;
    this.failPending(reason);
    if (model) {
      // Closing the model closes its channels; it waits for nothing unconfirmed (the host released those points).
      await model.close().catch(() => undefined);
    }
  }

  healthCheck(): Promise<HealthProbe> {
    if (this.broken || !this.channel)
      return Promise.resolve({ ok: false, detail: this.broken?.message ?? 'not connected' });
    if (this.blockedReason !== undefined)
      return Promise.resolve({ ok: false, detail: `broker blocks publishers: ${this.blockedReason}` });
    return Promise.resolve({ ok: true });
  }

  private socketOptions(): Record<string, unknown> {
    const tls = this.ctx.tls;
    return {
      timeout: this.config.connect_timeout_ms,
      noDelay: true,
      keepAlive: true,
      clientProperties: { connection_name: `bifrost ${this.ctx.name}` },
      ...(tls && {
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        passphrase: tls.passphrase,
        servername: tls.servername,
        rejectUnauthorized: tls.rejectUnauthorized,
      }),
    };
  }

  private async prepareExchange(channel: ConfirmChannel): Promise<void> {
    const { exchange, exchange_type: type, exchange_declare: declare } = this.config;
    if (exchange === '') return;
    if (declare) await channel.assertExchange(exchange, type, { durable: true });
    else await channel.checkExchange(exchange);
  }

  private watchConnection(model: ChannelModel): void {
    model.on('error', (err: unknown) => this.ctx.logger.warn({ err: String(err) }, 'AMQP connection error'));
    model.on('close', (err?: unknown) => {
      if (this.model !== model) return;
      this.markBroken(
        err
          ? this.classify(err)
          : new TransientError('connection closed by the broker', { code: 'BIFROST_ERR_AMQP_CLOSED' }),
      );
    });
    model.on('blocked', (reason: string) => {
      this.blockedReason = reason || 'flow control';
      this.ctx.logger.warn({ reason }, 'broker blocked publishers (flow control)');
      this.failPending(this.blockedError());
    });
    model.on('unblocked', () => {
      this.blockedReason = undefined;
      this.ctx.logger.info({}, 'broker unblocked publishers');
    });
  }

  private watchChannel(channel: ConfirmChannel): void {
    channel.on('error', (err: unknown) => {
      if (this.channel === channel) this.markBroken(this.classify(err));
    });
    channel.on('close', () => {
      if (this.channel === channel)
        this.markBroken(new TransientError('channel closed', { code: 'BIFROST_ERR_AMQP_CHANNEL_CLOSED' }));
    });
    channel.on('return', (msg: ConsumeMessage) => {
      const id = msg.properties.messageId as string | undefined;
      if (id)
        this.returned.set(
          id,
          `unroutable: exchange "${msg.fields.exchange}" has no queue bound for routing key "${msg.fields.routingKey}"`,
        );
    });
  }

  private markBroken(err: BifrostError): void {
    if (!this.broken) this.ctx.logger.warn({ code: err.code }, err.message);
    this.broken ??= err;
    this.channel = undefined;
    this.failPending(err);
  }

  private failPending(err: BifrostError): void {
    for (const p of this.pending) p.fail(err);
    this.pending.clear();
  }

  private usableChannel(): ConfirmChannel {
    if (this.broken) throw this.broken;
    if (this.blockedReason !== undefined) throw this.blockedError();
    if (!this.channel) throw new TransientError('not connected', { code: 'BIFROST_ERR_AMQP_NOT_CONNECTED' });
    return this.channel;
  }

  /**
   * Publishes every message, pausing on channel backpressure ('drain'), then waits for the
   * broker's confirm of each one. Rejects at once if the connection breaks or is blocked meanwhile,
   * or `signal` aborts (then the connection is closed, so no late confirm counts).
   */
  private publishAll(
    channel: ConfirmChannel,
    items: ReadonlyArray<{ point: DataPoint; key: string }>,
    signal: AbortSignal,
  ): Promise<Confirms> {
    const { exchange, persistent, mandatory } = this.config;
    const nacked: string[] = [];
    const model = this.model;
    return new Promise<Confirms>((resolve, reject) => {
      let outstanding = items.length;
      let drainWaiter: (() => void) | undefined;
      const onAbort = () => {
        const err = cancelledError(signal);
        write.fail(err);
        // Only the connection this write used: a newer one (after a reconnect) is not ours to close.
        if (this.model === model) void this.dropConnection(err);
      };
      const write: PendingWrite = {
        fail: (err) => {
          this.pending.delete(write);
          signal.removeEventListener('abort', onAbort);
          drainWaiter?.();
          reject(err);
        },
      };
      this.pending.add(write);
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        this.pending.delete(write);
        signal.removeEventListener('abort', onAbort);
        const returned = new Map<string, string>();
        for (const { point } of items) {
          const reason = this.returned.get(point.id);
          if (reason !== undefined) {
            returned.set(point.id, reason);
            this.returned.delete(point.id);
          }
        }
        resolve({ nacked, returned });
      };
      const publish = async () => {
        for (const { point, key } of items) {
          if (!this.pending.has(write)) return;
          const { content, options } = toMessage(point, persistent, mandatory);
          const more = channel.publish(exchange, key, content, options, (err: Error | null) => {
            // amqplib also calls back with an error for every unconfirmed message when the channel
            // closes (the connection dropped): that is no nack, and the broker may never have seen them.
            if (err && !NACK_MESSAGE.test(err.message)) return write.fail(channelClosedError(err));
            if (err) nacked.push(point.id);
            if (--outstanding === 0 && this.pending.has(write)) finish();
          });
          if (!more) {
            await new Promise<void>((resume) => {
              drainWaiter = resume;
              channel.once('drain', resume);
            });
            channel.off('drain', drainWaiter as () => void);
            drainWaiter = undefined;
          }
        }
      };
      publish().catch((err: unknown) => write.fail(this.classify(err)));
    });
  }

  /** Turns confirms into success or the classified error for the points that did not make it. */
  private settle(
    batch: readonly DataPoint[],
    poison: RejectedPoint[],
    published: number,
    { nacked, returned }: Confirms,
  ): void {
    if (published > 0 && returned.size === published && poison.length === 0) {
      const [reason] = returned.values();
      throw new ConfigError(
        `all ${published} message(s) returned by the broker, ${reason}; bind a queue or fix routing_key`,
        { code: 'BIFROST_ERR_AMQP_UNROUTABLE' },
      );
    }
    const rejected: RejectedPoint[] = [...poison];
    for (const [id, reason] of returned) rejected.push({ id, reason, kind: 'payload' });
    const nackedSet = new Set(nacked);
    for (const id of nackedSet)
      if (!returned.has(id))
        rejected.push({ id, reason: 'nacked by the broker (queue full or internal error)', kind: 'transient' });
    if (rejected.length === 0) return;
    const rejectedIds = new Set(rejected.map((r) => r.id));
    const accepted = batch.filter((p) => !rejectedIds.has(p.id)).map((p) => p.id);
    if (accepted.length === 0 && rejected.every((r) => r.kind === 'transient')) {
      throw new CapacityError(
        `broker nacked all ${rejected.length} message(s) (queue full with overflow reject-publish, or an internal error)`,
        undefined,
        { code: 'BIFROST_ERR_AMQP_NACKED' },
      );
    }
    if (accepted.length === 0 && rejected.every((r) => r.kind !== 'transient')) {
      throw new PayloadError(
        rejected
          .map((r) => r.reason)
          .slice(0, 3)
          .join('; '),
        rejected.map((r) => r.id),
        { code: 'BIFROST_ERR_AMQP_REJECTED' },
      );
    }
    throw new PartialWriteError(accepted, rejected);
  }

  private blockedError(): CapacityError {
    return new CapacityError(
      `broker blocks publishers (flow control: ${this.blockedReason ?? 'unknown'})`,
      BLOCKED_RETRY_AFTER_MS,
      { code: 'BIFROST_ERR_AMQP_BLOCKED' },
    );
  }

  private classify(err: unknown): BifrostError {
    return classifyAmqpError(err);
  }
}
