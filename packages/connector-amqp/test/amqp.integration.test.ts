import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CapacityError,
  ConfigError,
  PartialWriteError,
  newPointId,
  type DataPoint,
  type PluginContext,
} from '@bifrost/core';
import {
  rabbitInstallation,
  requirePeer,
  showPeerLogsOnFailure,
  silentLogger,
  startRabbitMq,
  type RabbitPeer,
  noCancel,
} from '@bifrost/connector-testkit';
import amqp, { amqpConfigSchema } from '../src/index.js';

const rabbit = requirePeer('rabbitmq', rabbitInstallation);

const ctx = (): PluginContext => ({ name: 'it', logger: silentLogger, signal: new AbortController().signal });
let seq = 0;
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: newPointId(),
  deviceId: 'PLC1',
  tagName: 'temperature',
  value: 20 + ++seq,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + seq,
  ...over,
});

describe.skipIf(!rabbit.available)('AMQP connector against a real RabbitMQ', () => {
  let peer: RabbitPeer;
  let admin: ChannelModel;
  let ch: Channel;
  showPeerLogsOnFailure(() => [peer]);
  const connector = (extra: Record<string, unknown> = {}) =>
    amqp.create(amqpConfigSchema.parse({ endpoint: peer.url, ...extra }), ctx());
  /** A queue bound to `exchange` with `pattern`, emptied. */
  const queueFor = async (exchange: string, pattern: string) => {
    const { queue } = await ch.assertQueue(`q-${exchange}-${pattern}`, { durable: true });
    await ch.bindQueue(queue, exchange, pattern);
    await ch.purgeQueue(queue);
    return queue;
  };

  beforeAll(async () => {
    peer = await startRabbitMq();
    admin = await connect(peer.url);
    ch = await admin.createChannel();
  });
  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await peer?.dispose();
  });

  it('publishes persistent JSON messages with the point id as message_id on the templated routing key', async () => {
    const c = connector({ exchange: 'it.props', routing_key: 'plant.{device_id}.{tag_name}.{quality}' });
    await c.connect();
    const queue = await queueFor('it.props', 'plant.#');
    const p = point({ quality: 'ALARM', unit: 'degC', tags: { line: '3' } });
    await c.write([p], noCancel());
    const msg = (await ch.get(queue, { noAck: true })) as GetMessage;
    expect(msg.fields.routingKey).toBe('plant.PLC1.temperature.ALARM');
    expect(msg.properties).toMatchObject({
      messageId: p.id,
      contentType: 'application/json',
      deliveryMode: 2,
      appId: 'bifrost',
    });
    expect(msg.properties.headers).toMatchObject({ device_id: 'PLC1', tag_name: 'temperature', quality: 'ALARM' });
    expect(JSON.parse(msg.content.toString())).toEqual(p);
    await c.close();
  });

  it('never reports returned (unroutable) messages as delivered', async () => {
    const c = connector({ exchange: 'it.routes' });
    await c.connect();
    await expect(c.write([point(), point()], noCancel())).rejects.toMatchObject({
      kind: 'config',
      code: 'BIFROST_ERR_AMQP_UNROUTABLE',
    });
    const queue = await queueFor('it.routes', 'PLC1.#');
    const routed = point();
    const lost = point({ deviceId: 'PLC2' });
    const err = await c.write([routed, lost], noCancel()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).accepted).toEqual([routed.id]);
    expect((err as PartialWriteError).rejected).toEqual([
      expect.objectContaining({
        id: lost.id,
        reason: expect.stringMatching(/unroutable.*PLC2\.temperature/) as unknown,
      }),
    ]);
    expect((await ch.checkQueue(queue)).messageCount).toBe(1);
    await c.close();
  });

  it('classifies a missing exchange, an exchange of another type and an unknown vhost as ConfigError', async () => {
    await expect(connector({ exchange: 'it.absent', exchange_declare: false }).connect()).rejects.toMatchObject({
      kind: 'config',
      code: 'BIFROST_ERR_AMQP_NOT_FOUND',
    });
    await ch.assertExchange('it.fanout', 'fanout', { durable: true });
    await expect(connector({ exchange: 'it.fanout', exchange_type: 'topic' }).connect()).rejects.toMatchObject({
      kind: 'config',
      code: 'BIFROST_ERR_AMQP_PRECONDITION_FAILED',
    });
    await expect(connector({ vhost: 'nowhere' }).connect()).rejects.toBeInstanceOf(ConfigError);
    const passive = connector({ exchange: 'it.fanout', exchange_declare: false });
    await expect(passive.connect()).resolves.toBeUndefined();
    await passive.close();
  });

  it('refuses wrong credentials with AuthError', async () => {
    await expect(connector({ password: 'wrong' }).connect()).rejects.toMatchObject({
      kind: 'auth',
      code: 'BIFROST_ERR_AMQP_ACCESS_REFUSED',
    });
  });

  it('turns the broker blocking publishers (memory alarm) into CapacityError and delivers once it unblocks', async () => {
    const c = connector({ exchange: 'it.flow' });
    await c.connect();
    const queue = await queueFor('it.flow', '#');
    await c.write([point()], noCancel());
    peer.ctl('set_vm_memory_high_watermark', '0.000001');
    try {
      // The alarm is raised at the broker's next memory check, and a connection is blocked when it
      // next publishes; from then on the write fails fast instead of hanging.
      let err: unknown;
      for (let i = 0; i < 100 && !err; i++) {
        err = await c.write([point()], noCancel()).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!err) await new Promise((r) => setTimeout(r, 100));
      }
      expect(err).toBeInstanceOf(CapacityError);
      expect((err as CapacityError).code).toBe('BIFROST_ERR_AMQP_BLOCKED');
      await expect(c.write([point()], noCancel())).rejects.toBeInstanceOf(CapacityError);
      expect((await c.healthCheck!()).ok).toBe(false);
    } finally {
      peer.ctl('set_vm_memory_high_watermark', '0.4');
    }
    const after = point();
    for (let i = 0; ; i++) {
      const res = await c.write([after], noCancel()).then(
        () => 'ok',
        (e: unknown) => e,
      );
      if (res === 'ok') break;
      expect(res).toBeInstanceOf(CapacityError);
      if (i > 100) throw new Error('still blocked 10 s after the alarm cleared');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ids: string[] = [];
    for (let msg = await ch.get(queue, { noAck: true }); msg; msg = await ch.get(queue, { noAck: true }))
      ids.push(msg.properties.messageId as string);
    expect(ids).toContain(after.id);
    await c.close();
  });

  it('keeps persistent messages in a durable queue across a broker restart and reconnects', async () => {
    const c = connector({ exchange: 'it.restart' });
    await c.connect();
    const queue = await queueFor('it.restart', '#');
    const before = [point(), point()];
    await c.write(before, noCancel());
    await admin.close();
    await peer.restart();
    await expect(c.write([point()], noCancel())).rejects.toMatchObject({ kind: 'transient' });
    await c.connect();
    const after = point();
    await c.write([after], noCancel());
    admin = await connect(peer.url);
    ch = await admin.createChannel();
    const ids: string[] = [];
    for (let msg = await ch.get(queue, { noAck: true }); msg; msg = await ch.get(queue, { noAck: true }))
      ids.push(msg.properties.messageId as string);
    expect(ids).toEqual([...before, after].map((p) => p.id));
    await c.close();
  });
});
