import { EventEmitter } from 'node:events';
import {
  AuthError,
  CapacityError,
  ConfigError,
  PartialWriteError,
  PayloadError,
  TransientError,
  type DataPoint,
  type PluginContext,
} from '@bifrost/core';
import { expectReadmeOptionsTable, noCancel, silentLogger } from '@bifrost/connector-testkit';
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** A stand-in for amqplib's confirm channel: records publishes; the test decides acks, nacks, returns. */
class FakeChannel extends EventEmitter {
  published: Array<{
    exchange: string;
    key: string;
    content: Buffer;
    options: Record<string, unknown>;
    cb: (err: Error | null) => void;
  }> = [];
  /** publish() returns false (buffer full) for these indexes. */
  fullAt = new Set<number>();
  assertExchange = vi.fn(() => Promise.resolve({}));
  checkExchange = vi.fn(() => Promise.resolve({}));
  publish(
    exchange: string,
    key: string,
    content: Buffer,
    options: Record<string, unknown>,
    cb: (err: Error | null) => void,
  ): boolean {
    this.published.push({ exchange, key, content, options, cb });
    return !this.fullAt.has(this.published.length - 1);
  }
  /** The publish recorded at `i` (failing the test when there is none). */
  at(i: number): FakeChannel['published'][number] {
    const p = this.published[i];
    if (!p) throw new Error(`no publish #${i}`);
    return p;
  }
  ackAll(): void {
    for (const p of this.published.splice(0)) p.cb(null);
  }
}
class FakeModel extends EventEmitter {
  channel = new FakeChannel();
  createConfirmChannel = vi.fn(() => Promise.resolve(this.channel));
  close = vi.fn(() => Promise.resolve(undefined));
}
let model: FakeModel;
const connectSpy = vi.fn(() => Promise.resolve(model));
vi.mock('amqplib', () => ({ connect: (...args: unknown[]) => connectSpy(...(args as [])) }));

/** The error `p` rejects with, checked to be a `T`. */
async function rejectionOf<T>(p: Promise<unknown>, type: abstract new (...args: never[]) => T): Promise<T> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as T;
}

const {
  default: amqp,
  compileRoutingKey,
  routingKeyProblem,
  classifyAmqpError,
  connectOptions,
  toMessage,
  amqpConfigSchema,
} = await import('../src/index.js');

const ctx = (over: Partial<PluginContext> = {}): PluginContext => ({
  name: 'test',
  logger: silentLogger,
  signal: new AbortController().signal,
  ...over,
});
const point = (i: number, over: Partial<DataPoint> = {}): DataPoint => ({
  id: `id-${i}`,
  deviceId: `PLC${i % 2}`,
  tagName: 'temperature',
  value: 20 + i,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
  ...over,
});
const tick = () => new Promise((r) => setImmediate(r));

describe('config', () => {
  it('fills defaults and accepts a minimal config', () => {
    const c = amqpConfigSchema.parse({ endpoint: 'amqp://localhost' });
    expect(c).toMatchObject({
      exchange: 'bifrost',
      exchange_type: 'topic',
      exchange_declare: true,
      routing_key: '{device_id}.{tag_name}',
      persistent: true,
      mandatory: true,
    });
  });
  it('names the field at fault', () => {
    const res = amqpConfigSchema.safeParse({ endpoint: 'http://localhost', exchange_type: 'bogus' });
    expect(res.success).toBe(false);
    const paths = res.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['endpoint', 'exchange_type']));
  });
  it('rejects unknown fields', () => {
    expect(amqpConfigSchema.safeParse({ endpoint: 'amqp://h', exchnage: 'x' }).success).toBe(false);
  });
  it('splits credentials and vhost, overrides win', () => {
    const base = amqpConfigSchema.parse({ endpoint: 'amqps://u%40x:p%3Aw@broker.local:5999/plant%2Fa' });
    expect(connectOptions(base)).toMatchObject({
      protocol: 'amqps',
      hostname: 'broker.local',
      port: 5999,
      username: 'u@x',
      password: 'p:w',
      vhost: 'plant%2Fa',
    });
    const over = amqpConfigSchema.parse({ endpoint: 'amqp://[::1]', username: 'a', password: 'b', vhost: '/' });
    expect(connectOptions(over)).toMatchObject({
      protocol: 'amqp',
      hostname: '::1',
      port: 5672,
      username: 'a',
      password: 'b',
      vhost: '%2F',
    });
  });
});

describe('routing key template', () => {
  it('renders device, tag and quality', () => {
    expect(compileRoutingKey('plant.{device_id}.{tag_name}.{quality}')(point(1))).toBe('plant.PLC1.temperature.GOOD');
    expect(compileRoutingKey('fixed')(point(1))).toBe('fixed');
    expect(compileRoutingKey('{tags.site}.{device_id}')(point(1, { tags: { site: 'oslo' } }))).toBe('oslo.PLC1');
  });
  it('flags a key longer than an AMQP short string (255 bytes)', () => {
    expect(routingKeyProblem('k'.repeat(255))).toBeUndefined();
    expect(routingKeyProblem('ü'.repeat(128))).toMatch(/routing key is longer than 255 bytes/);
  });
  it('rejects an unknown placeholder naming routing_key', () => {
    expect(() => compileRoutingKey('{device}.x')).toThrow(/routing_key: unknown placeholder \{device\}/);
  });
});

describe('classifyAmqpError', () => {
  it('maps reply codes and handshake refusals', () => {
    expect(classifyAmqpError(Object.assign(new Error('x'), { code: 403 }))).toBeInstanceOf(AuthError);
    expect(
      classifyAmqpError(
        new Error(
          'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
        ),
      ),
    ).toBeInstanceOf(AuthError);
    expect(classifyAmqpError(Object.assign(new Error('no exchange'), { code: 404 }))).toBeInstanceOf(ConfigError);
    expect(classifyAmqpError(Object.assign(new Error('inequivalent arg'), { code: 406 })).code).toBe(
      'BIFROST_ERR_AMQP_PRECONDITION_FAILED',
    );
    expect(
      classifyAmqpError(new Error('Connection closed: 530 (NOT-ALLOWED) with message "vhost x not found"')),
    ).toBeInstanceOf(ConfigError);
    expect(classifyAmqpError(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>')).code).toBe(
      'BIFROST_ERR_AMQP_VHOST_REFUSED',
    );
    expect(classifyAmqpError(Object.assign(new Error('shutdown'), { code: 320 }))).toBeInstanceOf(TransientError);
    expect(classifyAmqpError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })).code).toBe(
      'BIFROST_ERR_NET_ECONNREFUSED',
    );
  });
});

describe('message', () => {
  it('carries the point id, JSON body and persistence', () => {
    const { content, options } = toMessage(point(3), true, true);
    expect(JSON.parse(content.toString())).toEqual(point(3));
    expect(options).toMatchObject({
      messageId: 'id-3',
      contentType: 'application/json',
      persistent: true,
      mandatory: true,
      headers: { device_id: 'PLC1' },
    });
  });
  it('never puts the host lane priority on the wire', () => {
    const { content } = toMessage(point(3, { priority: 7 }), true, true);
    expect(JSON.parse(content.toString())).toEqual(point(3));
  });
});

describe('AmqpConnector (fake broker)', () => {
  beforeEach(() => {
    model = new FakeModel();
    connectSpy.mockClear();
  });
  const connected = async (over: Record<string, unknown> = {}) => {
    const c = amqp.create(amqp.configSchema.parse({ endpoint: 'amqp://localhost', ...over }), ctx());
    await c.connect();
    return c;
  };

  it('refuses TLS material with an amqp:// endpoint', () => {
    expect(() =>
      amqp.create(amqp.configSchema.parse({ endpoint: 'amqp://h' }), ctx({ tls: { rejectUnauthorized: true } })),
    ).toThrow(ConfigError);
  });

  it('declares the exchange durable, or only checks it', async () => {
    await connected();
    expect(model.channel.assertExchange).toHaveBeenCalledWith('bifrost', 'topic', { durable: true });
    model = new FakeModel();
    await connected({ exchange_declare: false, exchange: 'plant' });
    expect(model.channel.checkExchange).toHaveBeenCalledWith('plant');
    expect(model.channel.assertExchange).not.toHaveBeenCalled();
  });

  it('resolves only after every confirm', async () => {
    const c = await connected();
    let done = false;
    const w = c.write([point(1), point(2)], noCancel()).then(() => {
      done = true;
    });
    await tick();
    expect(model.channel.published.map((p) => p.key)).toEqual(['PLC1.temperature', 'PLC0.temperature']);
    model.channel.at(0).cb(null);
    await tick();
    expect(done).toBe(false);
    model.channel.ackAll();
    await w;
    expect(done).toBe(true);
  });

  it('waits for drain when the channel buffer is full', async () => {
    const c = await connected();
    model.channel.fullAt.add(0);
    const w = c.write([point(1), point(2)], noCancel());
    await tick();
    expect(model.channel.published).toHaveLength(1);
    model.channel.emit('drain');
    await tick();
    expect(model.channel.published).toHaveLength(2);
    model.channel.ackAll();
    await w;
  });

  it('never counts returned messages as delivered', async () => {
    const c = await connected();
    const w = c.write([point(1), point(2)], noCancel());
    await tick();
    model.channel.emit('return', {
      properties: { messageId: 'id-2' },
      fields: { exchange: 'bifrost', routingKey: 'PLC0.temperature' },
    });
    model.channel.ackAll();
    const err = await rejectionOf(w, PartialWriteError);
    expect(err.accepted).toEqual(['id-1']);
    expect(err.rejected).toEqual([
      expect.objectContaining({ id: 'id-2', reason: expect.stringMatching(/unroutable/) as unknown }),
    ]);
  });

  it('keeps a wholly unroutable batch queued (ConfigError)', async () => {
    const c = await connected();
    const w = c.write([point(1)], noCancel());
    await tick();
    model.channel.emit('return', {
      properties: { messageId: 'id-1' },
      fields: { exchange: 'bifrost', routingKey: 'PLC1.temperature' },
    });
    model.channel.ackAll();
    await expect(w).rejects.toMatchObject({ kind: 'config', code: 'BIFROST_ERR_AMQP_UNROUTABLE' });
  });

  it('turns nacks into retryable rejections', async () => {
    const c = await connected();
    const w = c.write([point(1), point(2)], noCancel());
    await tick();
    const [a, b] = model.channel.published.splice(0);
    a!.cb(null);
    b!.cb(new Error('message nacked'));
    const err = await rejectionOf(w, PartialWriteError);
    expect(err.rejected).toEqual([expect.objectContaining({ id: 'id-2', kind: 'transient' })]);
    const w2 = c.write([point(3)], noCancel());
    await tick();
    model.channel.at(0).cb(new Error('message nacked'));
    await expect(w2).rejects.toBeInstanceOf(CapacityError);
  });

  it('fails a write whose channel closed before the confirms as transient, not as a nack', async () => {
    const c = await connected();
    const w = c.write([point(1), point(2)], noCancel());
    await tick();
    // amqplib calls back every unconfirmed publish with 'channel closed' when the connection drops.
    for (const p of model.channel.published.splice(0)) p.cb(new Error('channel closed'));
    await expect(w).rejects.toMatchObject({ kind: 'transient', code: 'BIFROST_ERR_AMQP_CHANNEL_CLOSED' });
  });

  it('dead-letters a point whose routing key is too long without publishing it', async () => {
    const c = await connected();
    const w = c.write([point(1, { deviceId: 'x'.repeat(300) })], noCancel());
    await expect(w).rejects.toBeInstanceOf(PayloadError);
    expect(model.channel.published).toHaveLength(0);
  });

  it('fails pending and new writes with CapacityError while the broker blocks publishers', async () => {
    const c = await connected();
    const w = c.write([point(1)], noCancel());
    await tick();
    model.emit('blocked', 'low on memory');
    await expect(w).rejects.toMatchObject({ kind: 'capacity', code: 'BIFROST_ERR_AMQP_BLOCKED', retryAfterMs: 1000 });
    await expect(c.write([point(2)], noCancel())).rejects.toBeInstanceOf(CapacityError);
    expect((await c.healthCheck!()).ok).toBe(false);
    model.emit('unblocked');
    const w3 = c.write([point(3)], noCancel());
    await tick();
    model.channel.ackAll();
    await w3;
  });

  it('fails pending writes when the connection drops and stays broken until reconnected', async () => {
    const c = await connected();
    const w = c.write([point(1)], noCancel());
    await tick();
    model.emit('close', Object.assign(new Error('Connection closed: 320 (CONNECTION-FORCED)'), { code: 320 }));
    await expect(w).rejects.toBeInstanceOf(TransientError);
    await expect(c.write([point(2)], noCancel())).rejects.toBeInstanceOf(TransientError);
    await c.connect();
    expect(connectSpy).toHaveBeenCalledTimes(2);
    const w2 = c.write([point(2)], noCancel());
    await tick();
    model.channel.ackAll();
    await w2;
  });

  it('throws at once, publishing nothing, when the signal is already aborted', async () => {
    const c = await connected();
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(c.write([point(1)], { signal: ac.signal })).rejects.toBeInstanceOf(TransientError);
    expect(model.channel.published).toHaveLength(0);
    expect(model.close).not.toHaveBeenCalled();
  });

  it('an aborted write rejects promptly, closes the connection, and a late confirm is not taken', async () => {
    const c = await connected();
    const ac = new AbortController();
    const w = c.write([point(1), point(2)], { signal: ac.signal });
    await tick();
    expect(model.channel.published).toHaveLength(2);
    model.channel.published[0]!.cb(null);
    ac.abort(new Error('timeout'));
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('BIFROST_ERR_AMQP_WRITE_CANCELLED');
    expect(model.close).toHaveBeenCalledTimes(1);
    // The broker's late confirm of the rest changes nothing; the connector needs a reconnect.
    model.channel.published[1]!.cb(null);
    await expect(c.write([point(3)], noCancel())).rejects.toBeInstanceOf(TransientError);
    expect((await c.healthCheck!()).ok).toBe(false);
  });

  it('aborting after the confirms came leaves the connection alone', async () => {
    const c = await connected();
    const ac = new AbortController();
    const w = c.write([point(1)], { signal: ac.signal });
    await tick();
    model.channel.ackAll();
    await w;
    ac.abort();
    expect(model.close).not.toHaveBeenCalled();
  });

  it('reports a refused login as AuthError from connect', async () => {
    connectSpy.mockRejectedValueOnce(new Error('Handshake terminated by server: 403 (ACCESS-REFUSED)'));
    const c = amqp.create(amqp.configSchema.parse({ endpoint: 'amqp://localhost' }), ctx());
    // The host prefixes messages with `[bifrost] [amqp:test]`, once; the connector does not.
    await expect(c.connect()).rejects.toMatchObject({
      kind: 'auth',
      message: expect.stringMatching(/^access refused/) as unknown,
    });
  });
});

describe('README', () => {
  it('carries the option table generated from the schema', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), amqpConfigSchema);
  });
});
