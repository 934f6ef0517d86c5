import { describe, expect, it } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';
import { isBifrostError, newPointId, type DataPoint, type PluginContext } from '@bifrost/core';
import {
  GcpPubSubConnector,
  GRPC,
  MAX_BATCH_BYTES,
  classifyPubSubError,
  gcpPubSubConfigSchema,
  publishOptions,
  wirePointBytes,
  type PubSubLike,
  type PubSubMessage,
  type TopicLike,
  type TopicPublishOptions,
} from '../src/index.js';

const ctx = { logger: silentLogger, signal: new AbortController().signal } as PluginContext;
const never = () => ({ signal: new AbortController().signal });

function point(over: Partial<DataPoint> = {}): DataPoint {
  return {
    id: newPointId(),
    deviceId: 'PLC1',
    tagName: 'temp',
    value: 21.5,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000,
    ...over,
  };
}

function grpcError(code: number, details = 'refused'): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details });
}

/**
 * A fake `Topic` that models the documented ordering contract: after a failed publish with an
 * ordering key, every later publish on that key fails with the cached error until `resumePublishing`.
 */
class FakeTopic implements TopicLike {
  published: PubSubMessage[] = [];
  failing = new Map<string, Error>();
  failNext: Array<Error | undefined> = [];
  private paused = new Map<string, Error>();
  resumed: string[] = [];
  flushed = 0;
  hold: Promise<void> | undefined;
  constructor(
    readonly name: string,
    readonly options: TopicPublishOptions,
  ) {}
  async publishMessage(m: PubSubMessage): Promise<string> {
    const key = m.orderingKey;
    if (key && this.paused.has(key))
      throw Object.assign(new Error('paused'), { orderingKey: key, error: this.paused.get(key) });
    if (this.hold) await this.hold;
    const err = this.failNext.length ? this.failNext.shift() : this.failing.get(key ?? '');
    if (err) {
      if (key && this.options.messageOrdering) this.paused.set(key, err);
      throw err;
    }
    this.published.push(m);
    return `m${this.published.length}`;
  }
  resumePublishing(key: string): void {
    this.resumed.push(key);
    this.paused.delete(key);
  }
  async flush(): Promise<void> {
    this.flushed++;
  }
  async exists(): Promise<[boolean]> {
    return [true];
  }
}

class FakeClient implements PubSubLike {
  topics = new Map<string, FakeTopic>();
  closed = 0;
  topic(name: string, options: TopicPublishOptions): FakeTopic {
    const key = `${name}/${options.batching.maxMessages}`;
    let t = this.topics.get(key);
    if (!t) this.topics.set(key, (t = new FakeTopic(name, options)));
    return t;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

async function connected(over: Record<string, unknown> = {}) {
  const client = new FakeClient();
  const c = new GcpPubSubConnector(
    gcpPubSubConfigSchema.parse({ project_id: 'p', topic: 'tp1', emulator: true, api_endpoint: 'x:1', ...over }),
    ctx,
    { client: () => client },
  );
  await c.connect();
  return { c, client, topic: () => client.topic('tp1', publishOptions(false)) };
}

/** The one element of a list the test expects exactly one of. */
function only<T>(items: readonly T[]): T {
  const [item, ...rest] = items;
  if (item === undefined || rest.length) throw new Error(`expected exactly one item, got ${items.length}`);
  return item;
}

describe('classification of gRPC status codes', () => {
  const cases: Array<[keyof typeof GRPC, string]> = [
    ['UNAVAILABLE', 'transient'],
    ['DEADLINE_EXCEEDED', 'transient'],
    ['ABORTED', 'transient'],
    ['INTERNAL', 'transient'],
    ['CANCELLED', 'transient'],
    ['RESOURCE_EXHAUSTED', 'capacity'],
    ['UNAUTHENTICATED', 'auth'],
    ['PERMISSION_DENIED', 'auth'],
    ['NOT_FOUND', 'config'],
    ['INVALID_ARGUMENT', 'payload'],
  ];
  for (const [name, kind] of cases)
    it(`${name} -> ${kind}`, () => {
      const e = classifyPubSubError(grpcError(GRPC[name]), 'projects/p/topics/t');
      expect(e.kind).toBe(kind);
      expect(e.message).not.toMatch(/^\[/); // the host prefixes, not the connector
    });
  it('NOT_FOUND names the topic', () => {
    expect(
      classifyPubSubError(grpcError(GRPC.NOT_FOUND, 'Resource not found'), 'projects/p/topics/t').message,
    ).toContain('projects/p/topics/t');
  });
  it('a PublishError wrapping a status is classified by the wrapped code', () => {
    const e = Object.assign(new Error('Unable to publish for key "A"'), {
      orderingKey: 'A',
      error: grpcError(GRPC.PERMISSION_DENIED),
    });
    expect(classifyPubSubError(e, 'x').kind).toBe('auth');
  });
  it('a token refused while fetching call metadata is an auth error', () => {
    const e = grpcError(
      GRPC.UNAVAILABLE,
      'Getting metadata from plugin failed with error: invalid_grant: Invalid JWT Signature.',
    );
    expect(classifyPubSubError(e, 'x').kind).toBe('auth');
  });
  it('INVALID_ARGUMENT names the points of the message', () => {
    const e = classifyPubSubError(grpcError(GRPC.INVALID_ARGUMENT), 'x', ['a', 'b']);
    expect(e).toMatchObject({ kind: 'payload', pointIds: ['a', 'b'] });
  });
});

describe('config', () => {
  const parse = (o: Record<string, unknown>) => gcpPubSubConfigSchema.parse({ project_id: 'p', topic: 'tp1', ...o });
  it('defaults', () => {
    expect(parse({})).toMatchObject({ emulator: false, messages: 'point', ordering: 'none', attributes: {} });
  });
  it('cuts batches by bytes and follows device streams only when a batch is one message / keys are ordered', () => {
    const make = (o: Record<string, unknown>) =>
      new GcpPubSubConnector(parse({ emulator: true, api_endpoint: 'x:1', ...o }), ctx);
    expect(make({}).maxBatchBytes).toBeUndefined();
    expect(make({ messages: 'batch' }).maxBatchBytes).toBe(MAX_BATCH_BYTES);
    expect(make({}).ordering).toBe('none');
    expect(make({ ordering: 'per-device' }).ordering).toBe('per-device');
  });
  it('refuses an invalid fixed topic id at create', () => {
    expect(() => new GcpPubSubConnector(parse({ topic: '1bad', emulator: true, api_endpoint: 'x:1' }), ctx)).toThrow(
      /not a valid Pub\/Sub topic id/,
    );
    expect(() => new GcpPubSubConnector(parse({ topic: 'goog-x', emulator: true, api_endpoint: 'x:1' }), ctx)).toThrow(
      /reserved/,
    );
  });
  it('refuses too many, too long, reserved or built-in attribute names', () => {
    const make = (attributes: Record<string, string>) => () =>
      new GcpPubSubConnector(parse({ attributes, emulator: true, api_endpoint: 'x:1' }), ctx);
    const many = Object.fromEntries(Array.from({ length: 97 }, (_, i) => [`a${i}`, 'v']));
    expect(make(many)).toThrow(/at most 96/);
    expect(make({ ['k'.repeat(257)]: 'v' })).toThrow(/256 bytes/);
    expect(make({ googx: 'v' })).toThrow(/reserved/);
    expect(make({ device_id: 'v' })).toThrow(/set by the connector/);
    expect(make({ x: '{nope}' })).toThrow(/unknown placeholder/);
  });
  it('emulator needs an address; credentials_file is not for the emulator', () => {
    const saved = process.env.PUBSUB_EMULATOR_HOST;
    delete process.env.PUBSUB_EMULATOR_HOST;
    try {
      expect(() => new GcpPubSubConnector(parse({ emulator: true }), ctx)).toThrow(/PUBSUB_EMULATOR_HOST/);
      process.env.PUBSUB_EMULATOR_HOST = '127.0.0.1:8085';
      expect(() => new GcpPubSubConnector(parse({ emulator: true }), ctx)).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env.PUBSUB_EMULATOR_HOST;
      else process.env.PUBSUB_EMULATOR_HOST = saved;
    }
    expect(() => parse({ emulator: true, credentials_file: '/k.json' })).toThrow(/no credentials/);
  });
  it('a missing credentials_file is a ConfigError naming it', async () => {
    const c = new GcpPubSubConnector(parse({ credentials_file: '/nonexistent/key.json' }), ctx);
    const err = (await c.connect().catch((e: unknown) => e)) as Error & { kind: string };
    expect(err.kind).toBe('config');
    expect(err.message).toContain('/nonexistent/key.json');
  });
});

describe('publisher settings', () => {
  it('one host batch is one request: 1,000 messages, 9 MiB, 1 ms, library retries off', () => {
    expect(publishOptions(true)).toEqual({
      batching: { maxMessages: 1000, maxBytes: MAX_BATCH_BYTES, maxMilliseconds: 1 },
      messageOrdering: true,
      gaxOpts: { retry: null },
    });
  });
  it('pointBytes counts what the client counts: data plus the built-in attributes', async () => {
    const { c, topic } = await connected();
    const p = point({ tags: { line: 'L1' }, unit: 'C' });
    await c.write([p], never());
    const m = only(topic().published);
    const counted = m.data.length + Object.entries(m.attributes).reduce((n, [k, v]) => n + Buffer.byteLength(k + v), 0);
    expect(wirePointBytes(p)).toBe(counted);
  });
});

describe('messages and attributes', () => {
  it('one message per point: JSON data, built-in and templated attributes, no ordering key by default', async () => {
    const { c, topic } = await connected({ attributes: { line: '{tags.line}', none: '{tags.none}' } });
    const p = point({ tags: { line: 'L2' }, priority: 9 });
    const receipt = await c.write([p], never());
    expect(receipt.bytes).toBeGreaterThan(0);
    const m = only(topic().published);
    expect(m.attributes).toEqual({ device_id: 'PLC1', tag_name: 'temp', quality: 'GOOD', id: p.id, line: 'L2' });
    expect(m.orderingKey).toBeUndefined();
    expect(JSON.parse(m.data.toString())).toEqual({
      id: p.id,
      deviceId: 'PLC1',
      tagName: 'temp',
      value: 21.5,
      quality: 'GOOD',
      timestamp: 1_700_000_000_000,
      tags: { line: 'L2' },
    });
  });
  it('ordering: per-device sets the device id as ordering key and enables message ordering', async () => {
    const { c, client } = await connected({ ordering: 'per-device' });
    await c.write([point({ deviceId: 'A' }), point({ deviceId: 'B' })], never());
    const t = client.topic('tp1', publishOptions(true));
    expect(t.options.messageOrdering).toBe(true);
    expect(t.published.map((m) => m.orderingKey)).toEqual(['A', 'B']);
  });
  it('messages: batch groups by topic and ordering key into JSON arrays with count and device_id', async () => {
    const { c, client } = await connected({ messages: 'batch', ordering: 'per-device' });
    const batch = [point({ deviceId: 'A' }), point({ deviceId: 'B' }), point({ deviceId: 'A' })];
    await c.write(batch, never());
    const t = client.topic('tp1', publishOptions(true));
    expect(t.published.map((m) => [m.orderingKey, m.attributes])).toEqual([
      ['A', { count: '2', device_id: 'A' }],
      ['B', { count: '1', device_id: 'B' }],
    ]);
    expect((JSON.parse(t.published[0]?.data.toString() ?? 'null') as DataPoint[]).map((p) => p.id)).toEqual([
      batch[0]?.id,
      batch[2]?.id,
    ]);
  });
  it('a templated topic per device; a rendered name that is no topic id is a payload rejection', async () => {
    const { c, client } = await connected({ topic: 'dev-{device_id}' });
    const good = point({ deviceId: 'a1' });
    const bad = point({ deviceId: 'a b' });
    const err = await c.write([good, bad], never()).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'partial', accepted: [good.id], rejected: [{ id: bad.id, kind: 'payload' }] });
    expect(client.topic('dev-a1', publishOptions(false)).published).toHaveLength(1);
  });
});

describe("Pub/Sub's limits, before the wire", () => {
  const rejectedAlone = async (p: DataPoint, over: Record<string, unknown> = {}) => {
    const { c, topic } = await connected(over);
    const err = await c.write([p], never()).catch((e: unknown) => e);
    expect(topic().published).toHaveLength(0);
    expect(isBifrostError(err) && err.kind).toBe('payload');
    return (err as Error).message;
  };
  it('an attribute value over 1,024 bytes', async () => {
    expect(await rejectedAlone(point({ tagName: 't'.repeat(1025) }))).toMatch(
      /tag_name is 1025 bytes, over Pub\/Sub's limit of 1024/,
    );
  });
  it('exactly 1,024 bytes passes', async () => {
    const { c, topic } = await connected();
    await c.write([point({ tagName: 't'.repeat(1024) })], never());
    expect(topic().published).toHaveLength(1);
  });
  it('an ordering key over 1,024 bytes', async () => {
    expect(await rejectedAlone(point({ deviceId: 'd'.repeat(1025) }), { ordering: 'per-device' })).toMatch(
      /ordering key/,
    );
  });
  it('a message over 10 MB', async () => {
    expect(await rejectedAlone(point({ value: 'x'.repeat(10 * 1024 * 1024) }))).toMatch(
      /10485\d+ bytes, over Pub\/Sub's limit of 10485760/,
    );
  });
  it('a poison point among good ones: partial write, the rest published', async () => {
    const { c, topic } = await connected();
    const good = [point(), point()] as const;
    const bad = point({ quality: 'q'.repeat(2000) });
    const err = await c.write([good[0], bad, good[1]], never()).catch((e: unknown) => e);
    expect(err).toMatchObject({
      kind: 'partial',
      accepted: good.map((p) => p.id),
      rejected: [{ id: bad.id, kind: 'payload' }],
    });
    expect(topic().published).toHaveLength(2);
  });
  it('a batch message over 10 MB is split in two messages', async () => {
    const { c, topic } = await connected({ messages: 'batch' });
    const big = [point({ value: 'x'.repeat(6 * 1024 * 1024) }), point({ value: 'y'.repeat(6 * 1024 * 1024) })];
    await c.write(big, never());
    expect(topic().published.map((m) => m.attributes.count)).toEqual(['1', '1']);
  });
});

describe('failures', () => {
  it('a failed write throws the classified error of the failure; the worst first', async () => {
    const { c, topic } = await connected();
    topic().failNext = [grpcError(GRPC.UNAVAILABLE), grpcError(GRPC.PERMISSION_DENIED)];
    await expect(c.write([point(), point()], never())).rejects.toMatchObject({ kind: 'auth' });
  });
  it('some messages acknowledged, others not: a partial write with the rest transient', async () => {
    const { c, topic } = await connected();
    const ps = [point(), point()];
    topic().failNext = [undefined, grpcError(GRPC.UNAVAILABLE)];
    await expect(c.write(ps, never())).rejects.toMatchObject({
      kind: 'partial',
      accepted: [ps[0]?.id],
      rejected: [{ id: ps[1]?.id, kind: 'transient' }],
    });
  });
  it('resumePublishing(key) after a failed ordered publish, so the retry on the same client goes out', async () => {
    const { c, client } = await connected({ ordering: 'per-device' });
    const t = client.topic('tp1', publishOptions(true));
    t.failing.set('A', grpcError(GRPC.UNAVAILABLE));
    const batch = [point({ deviceId: 'A' }), point({ deviceId: 'A' }), point({ deviceId: 'B' })];
    const err = await c.write(batch, never()).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'partial', accepted: [batch[2]?.id] });
    expect(t.resumed).toEqual(['A']);
    t.failing.clear();
    await c.write(batch.slice(0, 2), never());
    expect(t.published.map((m) => m.orderingKey)).toEqual(['B', 'A', 'A']);
  });
  it('without resume the fake keeps the key failed (the trap the connector avoids)', async () => {
    const t = new FakeTopic('t', publishOptions(true));
    t.failNext = [grpcError(GRPC.UNAVAILABLE)];
    await expect(t.publishMessage({ data: Buffer.from('1'), attributes: {}, orderingKey: 'K' })).rejects.toBeDefined();
    await expect(t.publishMessage({ data: Buffer.from('2'), attributes: {}, orderingKey: 'K' })).rejects.toMatchObject({
      orderingKey: 'K',
    });
  });
  it('INVALID_ARGUMENT on several messages: each is sent again alone, only the one at fault is dead-lettered', async () => {
    const { c, client } = await connected();
    const ps = [point(), point(), point()];
    client.topic('tp1', publishOptions(false)).failNext = [
      grpcError(GRPC.INVALID_ARGUMENT),
      grpcError(GRPC.INVALID_ARGUMENT),
      grpcError(GRPC.INVALID_ARGUMENT),
    ];
    const single = publishOptions(false);
    single.batching.maxMessages = 1;
    client.topic('tp1', single).failNext = [undefined, grpcError(GRPC.INVALID_ARGUMENT), undefined];
    await expect(c.write(ps, never())).rejects.toMatchObject({
      kind: 'partial',
      accepted: [ps[0]?.id, ps[2]?.id],
      rejected: [{ id: ps[1]?.id, kind: 'payload' }],
    });
  });
  it('NOT_FOUND is a ConfigError naming the topic', async () => {
    const { c, topic } = await connected();
    topic().failNext = [grpcError(GRPC.NOT_FOUND, 'Resource not found (resource=tp1).')];
    const err = (await c.write([point()], never()).catch((e: unknown) => e)) as Error & { kind: string };
    expect(err.kind).toBe('config');
    expect(err.message).toContain('projects/p/topics/tp1');
  });
  it('not connected is transient', async () => {
    const c = new GcpPubSubConnector(
      gcpPubSubConfigSchema.parse({ project_id: 'p', topic: 'tp1', emulator: true, api_endpoint: 'x:1' }),
      ctx,
    );
    await expect(c.write([point()], never())).rejects.toMatchObject({
      kind: 'transient',
      code: 'BIFROST_ERR_NOT_CONNECTED',
    });
  });
});

describe('abort', () => {
  it('stops waiting at once, closes the client and drops it', async () => {
    const { c, client, topic } = await connected();
    topic().hold = new Promise(() => {});
    const ac = new AbortController();
    const w = c.write([point()], { signal: ac.signal });
    ac.abort();
    await expect(w).rejects.toMatchObject({ kind: 'transient', code: 'BIFROST_ERR_ABORTED' });
    expect(client.closed).toBe(1);
    await expect(c.write([point()], never())).rejects.toMatchObject({ code: 'BIFROST_ERR_NOT_CONNECTED' });
  });
  it('an already aborted signal publishes nothing', async () => {
    const { c, topic } = await connected();
    const ac = new AbortController();
    ac.abort();
    await expect(c.write([point()], { signal: ac.signal })).rejects.toMatchObject({ code: 'BIFROST_ERR_ABORTED' });
    expect(topic().published).toHaveLength(0);
  });
  it('close flushes the topics and closes the client; idempotent', async () => {
    const { c, client, topic } = await connected();
    await c.write([point()], never());
    await c.close();
    await c.close();
    expect(topic().flushed).toBe(1);
    expect(client.closed).toBe(1);
  });
});
