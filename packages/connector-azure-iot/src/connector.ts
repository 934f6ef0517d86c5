import {
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  abortable,
  compilePointTemplate,
  type BifrostError,
  type Connector,
  type DataPoint,
  type ErrorKind,
  type HealthProbe,
  type PluginContext,
  type PointTemplate,
  type RejectedPoint,
  type WriteOptions,
  type WriteReceipt,
} from '@bifrost/core';
import { BUILTIN_PROPERTIES, type AzureIotConfig } from './config.js';
import { parseConnectionString, type DeviceConnection } from './connection-string.js';
import { classifyAzureError, type ErrorScene } from './errors.js';
import { MAX_BATCH_BYTES, planMessages, type MessageFormat, type PlannedMessage } from './messages.js';
import { loadAzureSdk, type AzureSdk, type IotClientLike } from './sdk.js';
import { sendWindowed } from './send-window.js';
import { TwinReporter, type ReportedPatch } from './twin.js';

/** Test seam: the SDK to use instead of the lazily imported one. */
export interface AzureIotConnectorOptions {
  sdk?: () => Promise<AzureSdk>;
}

/** One open client: replaced as a whole by `connect()`, dropped when it breaks or a write is cancelled unanswered. */
interface Session {
  client: IotClientLike;
  /** Why the connection is unusable (set by the SDK's `disconnect`). */
  broken?: BifrostError;
  /** Rejections of the sends awaiting a PUBACK, called when the session breaks so they fail at once. */
  waiting: Set<(err: BifrostError) => void>;
  lose(err: BifrostError): void;
  /** Messages acknowledged on this connection: a sign of life for a cancelled write. */
  acks: number;
}

/** Which failure of a write to report when none got through: what an operator must act on first. */
const SEVERITY: Readonly<Record<ErrorKind, number>> = {
  auth: 0,
  config: 1,
  capacity: 2,
  transient: 3,
  payload: 4,
  partial: 5,
};

/** Property names IoT Hub reserves or the connector sets itself. */
function propertyNameProblem(name: string, mode: AzureIotConfig['messages']): string | undefined {
  if (!name) return 'a property name must not be empty';
  if ((BUILTIN_PROPERTIES as readonly string[]).includes(name) || (mode === 'batch' && name === 'count'))
    return `"${name}" is set by the connector itself`;
  if (/^(\$|iothub-)/i.test(name)) return `"${name}": names starting with "$" or "iothub-" are reserved by IoT Hub`;
  return undefined;
}

function cancelled(): TransientError {
  return new TransientError('write cancelled by the host (timeout or shutdown) before every PUBACK arrived', {
    code: 'BIFROST_ERR_AZURE_IOT_WRITE_CANCELLED',
  });
}

/**
 * Azure IoT Hub through Microsoft's device SDK (`azure-iot-device` with the `azure-iot-device-mqtt`
 * transport). A write resolves only when IoT Hub's PUBACK arrived for every message; up to
 * `max_inflight` messages await theirs at once. The SDK's retry policy is `NoRetry`: a lost
 * connection fails the writes in flight and the host reconnects, with its backoff and breaker.
 */
export class AzureIotConnector implements Connector {
  /**
   * `messages: batch`: the host cuts batches to one 248 KB message. `point`: no byte cut (each
   * point is its own message, checked against the limit when built).
   */
  readonly maxBatchBytes: number | undefined;
  private session: Session | undefined;
  private sdk: AzureSdk | undefined;
  private readonly connection: DeviceConnection;
  private readonly format: MessageFormat;
  private readonly scene: ErrorScene;
  private readonly twin: TwinReporter | undefined;

  constructor(
    private readonly config: AzureIotConfig,
    private readonly ctx: PluginContext,
    private readonly options: AzureIotConnectorOptions = {},
  ) {
    this.maxBatchBytes = config.messages === 'batch' ? MAX_BATCH_BYTES : undefined;
    this.connection = parseConnectionString(config.connection_string, config.x509);
    const { hostName, deviceId, moduleId } = this.connection;
    const extras: Array<[string, PointTemplate]> = [];
    for (const [name, template] of Object.entries(config.properties)) {
      const problem = propertyNameProblem(name, config.messages);
      if (problem) throw new ConfigError(`properties: ${problem}`, { code: 'BIFROST_ERR_AZURE_IOT_PROPERTIES' });
      extras.push([name, compilePointTemplate(template, { option: `properties.${name}` })]);
    }
    this.format = {
      mode: config.messages,
      topic: `devices/${deviceId}/${moduleId ? `modules/${moduleId}/` : ''}messages/events/`,
      extras,
    };
    this.scene = {
      identity: `${hostName}/${deviceId}${moduleId ? `/${moduleId}` : ''}`,
      auth: this.connection.auth,
    };
    if (config.twin_update) this.twin = new TwinReporter(config.twin_interval, ctx.logger);
  }

  /**
   * Opens a new client (closing any old one): TLS trust from `ctx.tls.ca`, and with `x509` the
   * certificate and key as `ctx.tls` holds them now, so a rotated certificate is used. Resolves on
   * IoT Hub's CONNACK; a refused one is an AuthError.
   */
  async connect(): Promise<void> {
    await this.close();
    const tls = this.ctx.tls;
    if (tls && !tls.rejectUnauthorized)
      throw new ConfigError(
        'insecure_skip_verify: the Azure IoT device SDK always verifies the hub certificate; give the CA with ca_file instead',
        { code: 'BIFROST_ERR_AZURE_IOT_TLS' },
      );
    if (this.connection.auth === 'x509' && (!tls?.cert || !tls.key))
      throw new ConfigError('x509: needs the TLS cert_file and key_file of the device certificate', {
        code: 'BIFROST_ERR_AZURE_IOT_X509',
      });
    this.sdk ??= this.options.sdk ? await this.options.sdk() : await loadAzureSdk();
    const x509 =
      this.connection.auth === 'x509' && tls?.cert && tls.key
        ? { cert: tls.cert, key: tls.key, ...(tls.passphrase !== undefined && { passphrase: tls.passphrase }) }
        : undefined;
    const client = this.sdk.createClient(this.config.connection_string, this.connection, this.config, x509);
    const session = this.newSession(client);
    this.session = session;
    const options: Record<string, unknown> = { ...x509 };
    if (tls?.ca !== undefined) options.ca = tls.ca;
    try {
      await client.setOptions(options);
      await client.open();
    } catch (err) {
      if (this.session === session) this.session = undefined;
      client.removeAllListeners();
      await client.close().catch(() => undefined);
      throw classifyAzureError(err, this.scene);
    }
    if (this.session !== session) {
      await client.close().catch(() => undefined);
      throw new TransientError('connect superseded by a newer connect() or close()', {
        code: 'BIFROST_ERR_AZURE_IOT_CONNECT_SUPERSEDED',
      });
    }
    this.ctx.logger.info({ identity: this.scene.identity, auth: this.connection.auth }, 'connected to IoT Hub');
    this.twin?.start((patch) => this.patchReported(session, patch));
  }

  private newSession(client: IotClientLike): Session {
    const session: Session = {
      client,
      waiting: new Set(),
      acks: 0,
      lose: (err) => {
        if (session.broken) return;
        session.broken = err;
        for (const fail of session.waiting) fail(err);
        session.waiting.clear();
      },
    };
    client.on('disconnect', (result?: unknown) => {
      const cause = (result as { transportObj?: unknown } | undefined)?.transportObj;
      const err = cause
        ? classifyAzureError(cause, this.scene)
        : new TransientError('IoT Hub connection lost', { code: 'BIFROST_ERR_AZURE_IOT_DISCONNECTED' });
      session.lose(err);
      if (this.session === session) this.ctx.logger.warn({ code: err.code }, err.message);
    });
    client.on('error', (err?: Error) => this.ctx.logger.debug({ err: err?.message }, 'IoT Hub client error'));
    return session;
  }

  /**
   * Sends the batch's messages through a window of `max_inflight` and resolves when IoT Hub
   * acknowledged every one. Messages over 256 KB are refused before the wire (PartialWriteError or
   * PayloadError). When `signal` aborts, nothing more is sent and, if no PUBACK arrived during the
   * write, the connection is dropped as dead (the host reconnects).
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    if (signal.aborted) throw cancelled();
    const session = this.session;
    if (!session) throw new TransientError('not connected to IoT Hub', { code: 'BIFROST_ERR_AZURE_IOT_NOT_CONNECTED' });
    if (session.broken) throw session.broken;
    const sdk = this.sdk as AzureSdk;
    const { messages, poison } = planMessages(batch, this.format);
    const acksBefore = session.acks;
    let stop = false;
    const window = sendWindowed(
      messages,
      this.config.max_inflight,
      (m: PlannedMessage) => this.send(session, sdk, m),
      () => stop || session.broken !== undefined,
      () => session.broken ?? cancelled(),
    );
    const outcomes = await abortable(window, signal, cancelled, () => {
      stop = true;
      if (this.session === session && session.acks === acksBefore) {
        session.lose(cancelled());
        this.session = undefined;
        void session.client.close().catch(() => undefined);
      }
    });
    const accepted: string[] = [];
    const rejected: RejectedPoint[] = [...poison];
    const failures: Array<{ ids: string[]; error: BifrostError }> = [];
    let bytes = 0;
    for (const o of outcomes) {
      if (o.error === undefined) {
        accepted.push(...o.message.ids);
        bytes += o.message.bytes;
        continue;
      }
      const error = classifyAzureError(o.error, this.scene, o.message.ids);
      if (error.kind === 'payload')
        for (const id of o.message.ids) rejected.push({ id, reason: error.message, kind: 'payload' });
      else failures.push({ ids: o.message.ids, error });
    }
    if (accepted.length) this.twin?.note(accepted.length === batch.length ? batch : pointsOf(batch, accepted));
    if (rejected.length === 0 && failures.length === 0) return { bytes };
    if (accepted.length === 0 && failures.length === 0) {
      const reasons = [...new Set(rejected.map((r) => r.reason))];
      throw new PayloadError(
        reasons.length === 1
          ? (reasons[0] ?? '')
          : `${rejected.length} points refused: ${reasons.slice(0, 3).join('; ')}`,
        rejected.map((r) => r.id),
        { code: 'BIFROST_ERR_AZURE_IOT_MESSAGE_TOO_LARGE' },
      );
    }
    if (accepted.length === 0 && rejected.length === 0) {
      const [worst] = failures.map((f) => f.error).sort((a, b) => SEVERITY[a.kind] - SEVERITY[b.kind]);
      if (worst) throw worst;
    }
    for (const f of failures) for (const id of f.ids) rejected.push({ id, reason: f.error.message, kind: 'transient' });
    throw new PartialWriteError(accepted, rejected, { code: 'BIFROST_ERR_AZURE_IOT_PARTIAL_WRITE' });
  }

  /** One message until its PUBACK; fails at once when the session breaks (the SDK may never answer then). */
  private send(session: Session, sdk: AzureSdk, m: PlannedMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (session.broken) return reject(session.broken);
      session.waiting.add(reject);
      session.client.sendEvent(sdk.toMessage(m)).then(
        () => {
          session.waiting.delete(reject);
          session.acks++;
          resolve();
        },
        (err: Error) => {
          session.waiting.delete(reject);
          reject(err);
        },
      );
    });
  }

  private async patchReported(session: Session, patch: ReportedPatch): Promise<void> {
    if (session.broken || this.session !== session) throw new Error('not connected');
    const twin = await session.client.getTwin();
    await new Promise<void>((resolve, reject) =>
      twin.properties.reported.update(patch, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Sends the pending twin patch now (for tests and a clean shutdown). */
  async flushTwin(): Promise<void> {
    const session = this.session;
    if (this.twin && session) await this.twin.flush((patch) => this.patchReported(session, patch));
  }

  async close(): Promise<void> {
    this.twin?.stop();
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    session.lose(new TransientError('connection closed by the gateway', { code: 'BIFROST_ERR_AZURE_IOT_CLOSED' }));
    session.client.removeAllListeners();
    await session.client.close().catch(() => undefined);
  }

  healthCheck(): Promise<HealthProbe> {
    const s = this.session;
    if (s && !s.broken) return Promise.resolve({ ok: true });
    return Promise.resolve({ ok: false, detail: s?.broken?.message ?? 'not connected' });
  }
}

function pointsOf(batch: readonly DataPoint[], ids: readonly string[]): DataPoint[] {
  const set = new Set(ids);
  return batch.filter((p) => set.has(p.id));
}
