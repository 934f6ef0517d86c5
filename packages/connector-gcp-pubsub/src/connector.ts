import { readFile } from 'node:fs/promises';
import {
  AuthError,
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  classifyError,
  compilePointTemplate,
  pointJson,
  pointsJson,
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
import { BUILTIN_ATTRIBUTES, type GcpPubSubConfig } from './config.js';
import { GRPC, classifyPubSubError, grpcCode } from './errors.js';
import { MAX_BATCH_BYTES, PUBSUB_LIMITS, attributeProblem, messageBytes, topicIdProblem } from './limits.js';

/** The message shape `Topic.publishMessage` takes (the subset used here). */
export interface PubSubMessage {
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey?: string;
}

/** What the connector uses of `@google-cloud/pubsub`'s `Topic`; a test may hand in a fake. */
export interface TopicLike {
  publishMessage(message: PubSubMessage): Promise<string>;
  resumePublishing(orderingKey: string): void;
  flush(): Promise<void>;
  exists(): Promise<[boolean]>;
}

/** The publisher settings given to every topic (see {@link publishOptions}). */
export interface TopicPublishOptions {
  batching: { maxMessages: number; maxBytes: number; maxMilliseconds: number };
  messageOrdering: boolean;
  gaxOpts: { retry: null };
}

/** What the connector uses of `@google-cloud/pubsub`'s `PubSub`. */
export interface PubSubLike {
  topic(name: string, options: TopicPublishOptions): TopicLike;
  close(): Promise<void>;
}

/** Test seam: builds the client instead of the lazily imported `@google-cloud/pubsub`, and skips the credential check. */
export interface GcpPubSubConnectorOptions {
  client?: () => PubSubLike | Promise<PubSubLike>;
}

/** One message of a write: where it goes, what it carries, the points it holds. */
export interface PlannedMessage {
  topic: string;
  message: PubSubMessage;
  ids: string[];
  bytes: number;
}

/** One client and its topics: replaced as a whole by `connect()`, dropped when a write is aborted. */
interface Session {
  pubsub: PubSubLike;
  topics: Map<string, TopicLike>;
  /** Publishers sending one message per request, to isolate the message an INVALID_ARGUMENT is about. */
  singles: Map<string, TopicLike>;
}

/** Most messages of a batch the library may hold back before sending; a host batch is at most this. */
const MAX_MESSAGES = PUBSUB_LIMITS.messagesPerRequest;

/** Order of precedence when a write fails wholly for several reasons: what an operator must act on first. */
const SEVERITY: Readonly<Record<ErrorKind, number>> = {
  auth: 0,
  config: 1,
  capacity: 2,
  transient: 3,
  payload: 4,
  partial: 5,
};

/**
 * Publisher settings: a host batch (at most 1,000 points and 9 MiB) goes out as one publish request
 * (one per ordering key with message ordering). `maxMilliseconds: 1`: the messages of a write are
 * all queued in the same turn, so the library need not wait for more. `retry: null`: the library's
 * own retries (up to 60 s for Publish) are off, as the host owns retry, backoff and the breaker.
 */
export function publishOptions(ordering: boolean): TopicPublishOptions {
  return {
    batching: { maxMessages: MAX_MESSAGES, maxBytes: MAX_BATCH_BYTES, maxMilliseconds: 1 },
    messageOrdering: ordering,
    gaxOpts: { retry: null },
  };
}

/**
 * Google Cloud Pub/Sub through `@google-cloud/pubsub` (loaded on the first `connect`). A write
 * resolves when Pub/Sub returned a message id for every message; it does not retry (the host does),
 * except that messages refused with INVALID_ARGUMENT are sent again one per request to find the one
 * at fault.
 */
export class GcpPubSubConnector implements Connector {
  /** `messages: batch`: batches cut to one message's worth; `point`: none (the client splits requests). */
  readonly maxBatchBytes: number | undefined;
  /** Ordering keys only with `ordering: per-device`; otherwise the host needs no device streams. */
  readonly ordering: 'none' | 'per-device';
  private session: Session | undefined;
  private readonly topicOf: PointTemplate;
  private readonly staticTopic: string | undefined;
  private readonly extras: Array<[string, PointTemplate]> = [];
  private readonly ordered: boolean;

  constructor(
    private readonly config: GcpPubSubConfig,
    private readonly ctx: PluginContext,
    private readonly options: GcpPubSubConnectorOptions = {},
  ) {
    this.ordered = config.ordering === 'per-device';
    this.ordering = config.ordering;
    this.maxBatchBytes = config.messages === 'batch' ? MAX_BATCH_BYTES : undefined;
    if (/\{[^{}]*\}/.test(config.topic)) {
      this.topicOf = compilePointTemplate(config.topic, { option: 'topic', code: 'BIFROST_ERR_PUBSUB_TOPIC' });
    } else {
      const problem = topicIdProblem(config.topic);
      if (problem) throw new ConfigError(`topic: ${problem}`, { code: 'BIFROST_ERR_PUBSUB_TOPIC' });
      this.staticTopic = config.topic;
      this.topicOf = () => config.topic;
    }
    const entries = Object.entries(config.attributes);
    const names = entries.map(([name]) => name);
    const room = PUBSUB_LIMITS.attributesPerMessage - BUILTIN_ATTRIBUTES.length;
    if (names.length > room)
      throw new ConfigError(
        `attributes: ${names.length} given; Pub/Sub allows ${PUBSUB_LIMITS.attributesPerMessage} per message and the connector sets ${BUILTIN_ATTRIBUTES.length} (${BUILTIN_ATTRIBUTES.join(', ')}), so at most ${room}`,
        { code: 'BIFROST_ERR_PUBSUB_ATTRIBUTES' },
      );
    for (const [name, template] of entries) {
      const bytes = Buffer.byteLength(name);
      if (bytes === 0 || bytes > PUBSUB_LIMITS.attributeKeyBytes)
        throw new ConfigError(
          `attributes: the name "${name.slice(0, 40)}" is ${bytes} bytes; Pub/Sub takes 1 to ${PUBSUB_LIMITS.attributeKeyBytes} bytes`,
          { code: 'BIFROST_ERR_PUBSUB_ATTRIBUTES' },
        );
      if (/^goog/i.test(name))
        throw new ConfigError(`attributes: "${name}": names starting with "goog" are reserved by Pub/Sub`, {
          code: 'BIFROST_ERR_PUBSUB_ATTRIBUTES',
        });
      if ((BUILTIN_ATTRIBUTES as readonly string[]).includes(name) || (config.messages === 'batch' && name === 'count'))
        throw new ConfigError(`attributes: "${name}" is set by the connector itself`, {
          code: 'BIFROST_ERR_PUBSUB_ATTRIBUTES',
        });
      this.extras.push([name, compilePointTemplate(template, { option: `attributes.${name}` })]);
    }
    if (config.emulator && !this.emulatorHost())
      throw new ConfigError('emulator: true needs api_endpoint or PUBSUB_EMULATOR_HOST (host:port of the emulator)', {
        code: 'BIFROST_ERR_PUBSUB_EMULATOR',
      });
  }

  private emulatorHost(): string | undefined {
    return this.config.api_endpoint ?? process.env.PUBSUB_EMULATOR_HOST;
  }

  /** `projects/<project>/topics/<topic>`, for messages. */
  topicPath(topic: string): string {
    return `projects/${this.config.project_id}/topics/${topic}`;
  }

  /**
   * Builds the client (importing `@google-cloud/pubsub` on first use), checks the credentials
   * (a token is fetched, so a refused key shows here) and, for a fixed topic, that it exists.
   * A `GetTopic` refused with PERMISSION_DENIED is accepted: `roles/pubsub.publisher` alone may
   * publish without being allowed to read the topic.
   */
  async connect(): Promise<void> {
    await this.close();
    const pubsub = this.options.client ? await this.options.client() : await this.createClient();
    const session: Session = { pubsub, topics: new Map(), singles: new Map() };
    try {
      if (this.staticTopic) {
        const [exists] = await this.topicIn(session, this.staticTopic).exists();
        if (!exists)
          throw new ConfigError(
            `topic ${this.topicPath(this.staticTopic)} not found; create it (gcloud pubsub topics create ${this.staticTopic} --project ${this.config.project_id}) or fix topic / project_id`,
            { code: 'BIFROST_ERR_PUBSUB_TOPIC_NOT_FOUND' },
          );
      }
    } catch (err) {
      if (grpcCode(err) !== GRPC.PERMISSION_DENIED) {
        await pubsub.close().catch(() => {});
        throw classifyPubSubError(err, this.topicPath(this.staticTopic ?? this.config.topic));
      }
      this.ctx.logger.debug(
        { topic: this.staticTopic },
        'GetTopic not permitted; the topic is checked by the first publish',
      );
    }
    this.session = session;
    this.ctx.logger.info(
      { project: this.config.project_id, topic: this.config.topic, endpoint: this.config.api_endpoint },
      'Pub/Sub publisher ready',
    );
  }

  private async createClient(): Promise<PubSubLike> {
    const c = this.config;
    const settings: Record<string, unknown> = { projectId: c.project_id };
    // The standard PUBSUB_EMULATOR_HOST (with no api_endpoint) means the emulator, as for Google's clients.
    const emulator = c.emulator || (c.api_endpoint === undefined && Boolean(process.env.PUBSUB_EMULATOR_HOST));
    if (emulator) {
      settings.apiEndpoint = this.emulatorHost();
      settings.emulatorMode = true;
      // Named, so the auth library does not probe the GCE metadata server for it (no credentials here).
      settings.universeDomain = 'googleapis.com';
    } else {
      if (c.api_endpoint) settings.apiEndpoint = c.api_endpoint;
      if (c.credentials_file) settings.credentials = await readServiceAccountKey(c.credentials_file);
    }
    // Loaded here, not at the top: a gateway that does not use Pub/Sub never loads the client (and gRPC).
    const { PubSub } = await import('@google-cloud/pubsub');
    const pubsub = new PubSub(settings);
    if (!emulator) {
      try {
        const auth = await pubsub.auth.getClient();
        await auth.getAccessToken();
      } catch (err) {
        await pubsub.close().catch(() => {});
        throw credentialError(err, c.credentials_file);
      }
    }
    return pubsub;
  }

  private topicIn(session: Session, name: string, single = false): TopicLike {
    const map = single ? session.singles : session.topics;
    let t = map.get(name);
    if (!t) {
      const opts = publishOptions(this.ordered);
      if (single) opts.batching.maxMessages = 1;
      t = session.pubsub.topic(name, opts);
      map.set(name, t);
    }
    return t;
  }

  /** The host's periodic probe: `GetTopic` on a fixed topic (PERMISSION_DENIED counts as reachable). */
  async healthCheck(): Promise<HealthProbe> {
    const session = this.session;
    if (!session) return { ok: false, detail: 'not connected' };
    if (!this.staticTopic) return { ok: true };
    try {
      const [exists] = await this.topicIn(session, this.staticTopic).exists();
      return exists ? { ok: true } : { ok: false, detail: `topic ${this.topicPath(this.staticTopic)} not found` };
    } catch (err) {
      if (grpcCode(err) === GRPC.PERMISSION_DENIED) return { ok: true };
      return { ok: false, detail: classifyPubSubError(err, this.topicPath(this.staticTopic)).message };
    }
  }

  /**
   * The messages of a batch, and the points refused before the wire (a topic id, attribute or
   * ordering key over Pub/Sub's limits).
   */
  plan(batch: readonly DataPoint[]): { messages: PlannedMessage[]; rejected: RejectedPoint[] } {
    const rejected: RejectedPoint[] = [];
    const messages: PlannedMessage[] = [];
    const groups = new Map<
      string,
      { topic: string; attributes: Record<string, string>; key?: string; points: DataPoint[] }
    >();
    for (const p of batch) {
      const reject = (reason: string) => rejected.push({ id: p.id, reason, kind: 'payload' });
      const topic = this.topicOf(p);
      const topicProblem = this.staticTopic ? undefined : topicIdProblem(topic);
      if (topicProblem) {
        reject(`topic rendered from the point: ${topicProblem}`);
        continue;
      }
      let key: string | undefined;
      if (this.ordered) {
        key = p.deviceId;
        const kb = Buffer.byteLength(key);
        if (kb > PUBSUB_LIMITS.orderingKeyBytes) {
          reject(
            `ordering key (the device id) is ${kb} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.orderingKeyBytes} bytes`,
          );
          continue;
        }
      }
      const extra: Record<string, string> = {};
      for (const [name, t] of this.extras) {
        const v = t(p);
        if (v !== '') extra[name] = v;
      }
      if (this.config.messages === 'batch') {
        const problem = attributeProblem(extra);
        if (problem) {
          reject(problem);
          continue;
        }
        const g = `${topic}\u0000${key ?? ''}\u0000${JSON.stringify(extra)}`;
        let group = groups.get(g);
        if (!group) groups.set(g, (group = { topic, attributes: extra, key, points: [] }));
        group.points.push(p);
        continue;
      }
      const attributes: Record<string, string> = {
        ...extra,
        device_id: p.deviceId,
        tag_name: p.tagName,
        quality: p.quality,
        id: p.id,
      };
      const problem = attributeProblem(attributes);
      if (problem) {
        reject(problem);
        continue;
      }
      const data = Buffer.from(pointJson(p));
      const bytes = messageBytes(data, attributes, key);
      if (bytes > PUBSUB_LIMITS.messageBytes) {
        reject(
          `message is ${bytes} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.messageBytes} bytes (10 MB) per message`,
        );
        continue;
      }
      messages.push({ topic, message: { data, attributes, ...(key && { orderingKey: key }) }, ids: [p.id], bytes });
    }
    for (const g of groups.values()) this.batchMessages(g.topic, g.attributes, g.key, g.points, messages, rejected);
    return { messages, rejected };
  }

  /** One JSON-array message for `points`, split in halves while over the message limit. */
  private batchMessages(
    topic: string,
    extra: Record<string, string>,
    key: string | undefined,
    points: readonly DataPoint[],
    out: PlannedMessage[],
    rejected: RejectedPoint[],
  ): void {
    const attributes: Record<string, string> = { ...extra, count: String(points.length) };
    const [first] = points;
    if (!first) return;
    const devices = new Set(points.map((p) => p.deviceId));
    if (devices.size === 1 && Buffer.byteLength(first.deviceId) <= PUBSUB_LIMITS.attributeValueBytes)
      attributes.device_id = first.deviceId;
    const data = Buffer.from(pointsJson(points));
    const bytes = messageBytes(data, attributes, key);
    if (bytes > PUBSUB_LIMITS.messageBytes) {
      if (points.length === 1) {
        rejected.push({
          id: first.id,
          reason: `message is ${bytes} bytes, over Pub/Sub's limit of ${PUBSUB_LIMITS.messageBytes} bytes (10 MB) per message`,
          kind: 'payload',
        });
        return;
      }
      const half = Math.ceil(points.length / 2);
      this.batchMessages(topic, extra, key, points.slice(0, half), out, rejected);
      this.batchMessages(topic, extra, key, points.slice(half), out, rejected);
      return;
    }
    out.push({
      topic,
      message: { data, attributes, ...(key && { orderingKey: key }) },
      ids: points.map((p) => p.id),
      bytes,
    });
  }

  /**
   * Publishes every message of the batch and resolves when each got its message id. Points over a
   * limit are refused before the wire (a {@link PayloadError} when all are, otherwise a
   * {@link PartialWriteError}); a failure of the whole write as a classified error.
   */
  async write(batch: readonly DataPoint[], { signal }: WriteOptions): Promise<WriteReceipt> {
    const session = this.session;
    if (!session) throw new TransientError('not connected', { code: 'BIFROST_ERR_NOT_CONNECTED' });
    if (batch.length === 0) return { bytes: 0 };
    const { messages, rejected } = this.plan(batch);
    if (messages.length === 0) throw allRefused(rejected);
    if (signal.aborted) throw aborted();

    let outcomes = await this.abortable(session, this.publishAll(session, messages), signal);
    this.resume(session, outcomes);

    // INVALID_ARGUMENT is about one message, but fails its whole request: send those messages
    // again one per request, so only the one at fault is dead-lettered.
    const invalid = outcomes.filter((o) => o.error && grpcCode(o.error) === GRPC.INVALID_ARGUMENT);
    if (invalid.length > 1) {
      const again = await this.abortable(
        session,
        this.publishAll(
          session,
          invalid.map((o) => o.message),
          true,
        ),
        signal,
      );
      this.resume(session, again);
      outcomes = [...outcomes.filter((o) => !invalid.includes(o)), ...again];
    }
    return settle(batch, outcomes, rejected, (m, e) => classifyPubSubError(e, this.topicPath(m.topic), m.ids));
  }

  private publishAll(session: Session, messages: readonly PlannedMessage[], single = false): Promise<Outcome[]> {
    return Promise.all(
      messages.map((m) =>
        this.topicIn(session, m.topic, single)
          .publishMessage(m.message)
          .then(
            (messageId): Outcome => ({ message: m, messageId }),
            (error: unknown): Outcome => ({ message: m, error }),
          ),
      ),
    );
  }

  /**
   * After a failed publish with an ordering key the client refuses every later publish on that key
   * (it caches the error) until `resumePublishing(key)`: resumed here, so the host's retry goes out.
   */
  private resume(session: Session, outcomes: readonly Outcome[]): void {
    const done = new Set<string>();
    for (const o of outcomes) {
      const key = o.message.message.orderingKey;
      if (!o.error || !key) continue;
      const id = `${o.message.topic}\u0000${key}`;
      if (done.has(id)) continue;
      done.add(id);
      for (const map of [session.topics, session.singles]) map.get(o.message.topic)?.resumePublishing(key);
    }
  }

  /**
   * Waits for `work` unless `signal` aborts first. The Node client offers no way to cancel one
   * `publishMessage`: a message is queued in the topic's publisher and sent in a batch by its own
   * timer, with the topic's call options, and a request on the wire cannot be recalled. So on abort
   * the write stops waiting (the host has given up on these points and will write them again) and
   * this client is dropped and closed: its queued messages are not sent by a later timer, its
   * channels close, and no acknowledgement can reach a write that is over. The next write
   * reconnects. A request already sent may still be stored by Pub/Sub: a duplicate, which
   * subscribers drop by the `id` attribute (at-least-once).
   */
  private async abortable<T>(session: Session, work: Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) {
      this.drop(session);
      throw aborted();
    }
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onAbort = () => {
        this.drop(session);
        reject(aborted());
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([work, stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  private drop(session: Session): void {
    if (this.session === session) this.session = undefined;
    void session.pubsub.close().catch(() => {});
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    // In-flight writes were awaited or aborted by the host before close: send what is queued, briefly.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2_000)));
    try {
      await Promise.race([
        Promise.all([...session.topics.values(), ...session.singles.values()].map((t) => t.flush().catch(() => {}))),
        deadline,
      ]);
      await Promise.race([session.pubsub.close().catch(() => {}), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What became of one message. */
interface Outcome {
  message: PlannedMessage;
  messageId?: string;
  error?: unknown;
}

function aborted(): TransientError {
  return new TransientError('write aborted (timeout or shutdown) before every message id was returned', {
    code: 'BIFROST_ERR_ABORTED',
  });
}

function allRefused(rejected: readonly RejectedPoint[]): PayloadError {
  const reasons = [...new Set(rejected.map((r) => r.reason))];
  return new PayloadError(
    reasons.length === 1 && reasons[0] !== undefined
      ? reasons[0]
      : `${rejected.length} points refused: ${reasons.slice(0, 3).join('; ')}`,
    rejected.map((r) => r.id),
    { code: 'BIFROST_ERR_PUBSUB_LIMIT' },
  );
}

/** Turns the outcomes of a write into its result. */
export function settle(
  batch: readonly DataPoint[],
  outcomes: readonly Outcome[],
  refused: readonly RejectedPoint[],
  classify: (m: PlannedMessage, err: unknown) => BifrostError,
): WriteReceipt {
  const accepted: string[] = [];
  const rejected: RejectedPoint[] = [...refused];
  const failed: BifrostError[] = [];
  const failedIds: Array<{ ids: string[]; error: BifrostError }> = [];
  let bytes = 0;
  for (const o of outcomes) {
    if (o.error === undefined) {
      accepted.push(...o.message.ids);
      bytes += o.message.bytes;
      continue;
    }
    const e = classify(o.message, o.error);
    if (e.kind === 'payload') for (const id of o.message.ids) rejected.push({ id, reason: e.message, kind: 'payload' });
    else {
      failed.push(e);
      failedIds.push({ ids: o.message.ids, error: e });
    }
  }
  if (rejected.length === 0 && failed.length === 0) return { bytes };
  const [worst] = [...failed].sort((a, b) => SEVERITY[a.kind] - SEVERITY[b.kind]);
  if (worst && accepted.length === 0 && rejected.length === 0) throw worst;
  if (accepted.length === 0 && failed.length === 0 && rejected.length === batch.length) throw allRefused(rejected);
  for (const f of failedIds) for (const id of f.ids) rejected.push({ id, reason: f.error.message, kind: 'transient' });
  throw new PartialWriteError(accepted, rejected, { code: 'BIFROST_ERR_PUBSUB_PARTIAL_WRITE' });
}

/** Reads and checks a service-account key file, so a wrong path or a broken key is a clear config error. */
async function readServiceAccountKey(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`credentials_file ${path} cannot be read: ${(err as Error).message}`, {
      code: 'BIFROST_ERR_PUBSUB_CREDENTIALS_FILE',
      cause: err,
    });
  }
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`credentials_file ${path} is not JSON (a service-account key file is)`, {
      code: 'BIFROST_ERR_PUBSUB_CREDENTIALS_FILE',
      cause: err,
    });
  }
  if (key.type === 'service_account' && (typeof key.client_email !== 'string' || typeof key.private_key !== 'string'))
    throw new ConfigError(`credentials_file ${path}: a service-account key needs client_email and private_key`, {
      code: 'BIFROST_ERR_PUBSUB_CREDENTIALS_FILE',
    });
  return key;
}

/** A failure to get a token: no credentials found is a config error, a refused key an auth error. */
function credentialError(err: unknown, file: string | undefined): BifrostError {
  const message = (err as Error)?.message ?? String(err);
  if (/could not load the default credentials/i.test(message))
    return new ConfigError(
      `no Google credentials: set credentials_file, GOOGLE_APPLICATION_CREDENTIALS, or run on Google Cloud (${message})`,
      { code: 'BIFROST_ERR_PUBSUB_NO_CREDENTIALS', cause: err },
    );
  const status = (err as { response?: { status?: number }; status?: number })?.response?.status;
  if (
    status === 400 ||
    status === 401 ||
    status === 403 ||
    /invalid_grant|invalid_client|unauthorized_client/i.test(message)
  )
    return new AuthError(`credentials${file ? ` in ${file}` : ''} refused by Google's token endpoint: ${message}`, {
      code: 'BIFROST_ERR_PUBSUB_CREDENTIALS',
      cause: err,
    });
  return classifyError(err);
}
