import {
  sharedToxiproxy,
  startPubSubFake,
  type Collector,
  type PubSubFakePeer,
  type ReceivedPoint,
  type ToxiproxyProxy,
} from '@bifrost/connector-testkit';
import { PubSub, v1 } from '@google-cloud/pubsub';

export const PROJECT = 'bifrost-test';

/** A message read back through a subscription pull. */
export interface PulledMessage {
  messageId: string;
  data: string;
  attributes: Record<string, string>;
  orderingKey: string;
}

/**
 * The Pub/Sub fake with what the tests created on it (topics, subscriptions) and a Toxiproxy proxy
 * in front of it that the connector's plain variant goes through. The fake keeps everything in
 * memory, so a restart loses topics, subscriptions and messages: {@link FakePubSub.restart} first
 * cuts the connector off (proxy disabled: its publishes fail UNAVAILABLE and are retried by the
 * host), reads every stored message into the open readers, restarts the fake, creates the topics
 * and subscriptions again and lets the connector back in. What the fake acknowledged before the
 * restart is thus read back; what it did not is redelivered by the host.
 */
export class FakePubSub {
  readonly topics = new Set<string>();
  readonly subscriptions = new Map<string, { topic: string; ordered: boolean }>();
  readonly readers = new Set<SubscriptionReader>();
  private constructor(
    readonly fake: PubSubFakePeer,
    readonly proxy: ToxiproxyProxy,
    public admin: PubSub,
    public subscriber: v1.SubscriberClient,
  ) {}

  static async start(): Promise<FakePubSub> {
    const fake = await startPubSubFake();
    const toxi = await sharedToxiproxy();
    const proxy = await toxi.client.createProxy({ upstream: fake.emulatorHost });
    const admin = new PubSub({
      projectId: PROJECT,
      apiEndpoint: fake.emulatorHost,
      emulatorMode: true,
      universeDomain: 'googleapis.com',
    });
    return new FakePubSub(fake, proxy, admin, subscriberFor(admin));
  }

  /** host:port of the proxy in front of the fake (what the connector's plain config uses). */
  get proxied(): string {
    return `${this.proxy.host}:${this.proxy.port}`;
  }

  async createTopic(name: string): Promise<void> {
    this.topics.add(name);
    await this.admin.createTopic(name);
  }

  async createSubscription(topic: string, name: string, ordered = false): Promise<void> {
    this.subscriptions.set(name, { topic, ordered });
    await this.admin.topic(topic).createSubscription(name, { enableMessageOrdering: ordered, ackDeadlineSeconds: 60 });
  }

  async deleteSubscription(name: string): Promise<void> {
    this.subscriptions.delete(name);
    await this.admin
      .subscription(name)
      .delete()
      .catch(() => {});
  }

  /** A reader of a new subscription on `topic`: it sees what is published from now on. */
  async reader(topic: string, opts: { ordered?: boolean } = {}): Promise<SubscriptionReader> {
    const name = `sub-${Math.random().toString(36).slice(2, 10)}`;
    await this.createSubscription(topic, name, opts.ordered ?? false);
    const r = new SubscriptionReader(this, name);
    this.readers.add(r);
    return r;
  }

  /** Cuts the connector off, drains the readers and stops the fake. */
  async stop(): Promise<void> {
    await this.proxy.disable();
    for (const r of this.readers) await r.drain();
    await this.fake.stop();
  }

  /** Starts the fake, recreates topics and subscriptions, lets the connector back in. */
  async start(): Promise<void> {
    await this.fake.start();
    await this.recreate();
    await this.proxy.enable();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async recreate(): Promise<void> {
    for (const t of this.topics) await retry(() => this.admin.createTopic(t));
    for (const [name, s] of this.subscriptions)
      await retry(() =>
        this.admin
          .topic(s.topic)
          .createSubscription(name, { enableMessageOrdering: s.ordered, ackDeadlineSeconds: 60 }),
      );
  }

  async dispose(): Promise<void> {
    for (const r of this.readers) r.stopped = true;
    await this.subscriber.close().catch(() => {});
    await this.admin.close().catch(() => {});
    await this.proxy.delete().catch(() => {});
    await this.fake.dispose();
  }
}

function subscriberFor(admin: PubSub): v1.SubscriberClient {
  // The admin client's options carry the emulator's address and insecure channel credentials.
  return new v1.SubscriberClient(
    (admin as unknown as { options: ConstructorParameters<typeof v1.SubscriberClient>[0] }).options,
  );
}

async function retry<T>(fn: () => Promise<T>, tries = 20): Promise<T | undefined> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: number }).code === 6) return undefined; // ALREADY_EXISTS
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Pulls one subscription (synchronous pull, acked at once), keeping every message in arrival order. */
export class SubscriptionReader {
  readonly messages: PulledMessage[] = [];
  stopped = false;
  constructor(
    private readonly fake: FakePubSub,
    readonly subscription: string,
  ) {}

  private get path(): string {
    return `projects/${PROJECT}/subscriptions/${this.subscription}`;
  }

  /** One pull (at most 1000 messages), acked; returns how many came. */
  async pullOnce(): Promise<number> {
    const [res] = await this.fake.subscriber.pull(
      { subscription: this.path, maxMessages: 1000 },
      { timeout: 5_000, retry: null },
    );
    const got = res.receivedMessages ?? [];
    if (got.length === 0) return 0;
    for (const m of got)
      this.messages.push({
        messageId: m.message?.messageId ?? '',
        data: Buffer.from(m.message?.data ?? new Uint8Array()).toString('utf8'),
        attributes: { ...(m.message?.attributes ?? {}) },
        orderingKey: m.message?.orderingKey ?? '',
      });
    await this.fake.subscriber.acknowledge(
      { subscription: this.path, ackIds: got.map((m) => m.ackId!) },
      { timeout: 5_000 },
    );
    return got.length;
  }

  /** Pulls until two pulls in a row come back empty. */
  async drain(): Promise<void> {
    let empty = 0;
    while (empty < 2) {
      const n = await this.pullOnce().catch(() => 0);
      empty = n === 0 ? empty + 1 : 0;
    }
  }

  /** Pulls until `done()` or the deadline. */
  async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && Date.now() < deadline && !this.stopped) {
      const n = await this.pullOnce().catch(() => 0);
      if (n === 0) await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.fake.readers.delete(this);
    await this.fake.deleteSubscription(this.subscription);
  }
}

/** The points in a message's data (one object, or an array with `messages: batch`). */
export function pointsOf(m: PulledMessage): Array<Record<string, unknown>> {
  const parsed = JSON.parse(m.data) as unknown;
  return (Array.isArray(parsed) ? parsed : [parsed]) as Array<Record<string, unknown>>;
}

/** A conformance-suite collector over a reader: every point of every message, by id (first copy). */
export function collectorOf(reader: SubscriptionReader): Collector {
  const seen = new Map<string, ReceivedPoint>();
  let read = 0;
  const absorb = () => {
    for (const message of reader.messages.slice(read)) {
      read++;
      for (const p of pointsOf(message)) {
        const id = p.id as string;
        if (seen.has(id)) continue;
        seen.set(id, {
          id,
          value: p.value,
          deviceId: p.deviceId as string,
          tagName: p.tagName as string,
          quality: p.quality as string,
          timestamp: p.timestamp as number,
        });
      }
    }
  };
  return {
    async waitFor(ids, timeoutMs) {
      await reader.until(() => {
        absorb();
        return ids.every((id) => seen.has(id));
      }, timeoutMs);
      absorb();
      return new Map(ids.flatMap((id) => (seen.has(id) ? [[id, seen.get(id)!] as const] : [])));
    },
    close: () => reader.close(),
  };
}
