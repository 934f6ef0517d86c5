import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pstestBinary, requirePeer, silentLogger, toxiproxyBinary } from '@bifrost/connector-testkit';
import { isBifrostError, newPointId, type DataPoint, type PluginContext } from '@bifrost/core';
import { PubSub } from '@google-cloud/pubsub';
import gcpPubSub, { GcpPubSubConnector, gcpPubSubConfigSchema, publishOptions } from '../src/index.js';
import { FakePubSub, PROJECT, pointsOf } from './fake.js';

const pstest = requirePeer('pstest', pstestBinary);
const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);

const ctx = (): PluginContext => ({ logger: silentLogger, signal: new AbortController().signal }) as PluginContext;
const never = () => ({ signal: new AbortController().signal });

function points(n: number, devices: readonly string[], extra: Partial<DataPoint> = {}): DataPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: newPointId(),
    deviceId: devices[i % devices.length] ?? 'dev',
    tagName: 'temperature',
    value: i,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000 + i,
    ...extra,
  }));
}

/** Retries `fn` until it resolves (gRPC reconnects with its own backoff after the link is back). */
async function until<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe.skipIf(!pstest.available || !toxiproxy.available)('gcp-pubsub on pstest', () => {
  let f: FakePubSub;
  const connectors: GcpPubSubConnector[] = [];
  const connector = (over: Record<string, unknown>, endpoint?: string) => {
    const c = new GcpPubSubConnector(
      gcpPubSubConfigSchema.parse({
        project_id: PROJECT,
        emulator: true,
        api_endpoint: endpoint ?? f.proxied,
        ...over,
      }),
      ctx(),
    );
    connectors.push(c);
    return c;
  };

  beforeAll(async () => {
    f = await FakePubSub.start();
    for (const t of ['attrs', 'ordered', 'batch', 'resume', 'dev-a', 'dev-b']) await f.createTopic(t);
  });
  afterAll(async () => {
    for (const c of connectors) await c.close();
    await f?.dispose();
  });

  it('attributes device_id, tag_name, quality, id and templated ones are read back with the point as data', async () => {
    const r = await f.reader('attrs');
    const c = connector({ topic: 'attrs', attributes: { line: '{tags.line}', site: 'plant-a', empty: '{tags.none}' } });
    await c.connect();
    const batch = points(20, ['PLC1', 'PLC2'], { tags: { line: 'L3' }, unit: 'C' });
    await c.write(batch, never());
    await r.until(() => r.messages.length >= 20, 10_000);
    expect(r.messages).toHaveLength(20);
    const byId = new Map(r.messages.map((m) => [m.attributes.id, m]));
    for (const p of batch) {
      const m = byId.get(p.id)!;
      expect(m.attributes).toEqual({
        device_id: p.deviceId,
        tag_name: 'temperature',
        quality: 'GOOD',
        id: p.id,
        line: 'L3',
        site: 'plant-a',
      });
      expect(JSON.parse(m.data)).toEqual({
        id: p.id,
        deviceId: p.deviceId,
        tagName: 'temperature',
        value: p.value,
        quality: 'GOOD',
        timestamp: p.timestamp,
        unit: 'C',
        tags: { line: 'L3' },
      });
    }
  });

  it('ordering: per-device: each device is the ordering key and an ordered subscription reads its points in order', async () => {
    const r = await f.reader('ordered', { ordered: true });
    const c = connector({ topic: 'ordered', ordering: 'per-device' });
    await c.connect();
    const devices = ['A', 'B', 'C', 'D'];
    const sent: DataPoint[] = [];
    // Several writes in a row, each with every device, as the host's device streams send them.
    for (let w = 0; w < 5; w++) {
      const batch = points(400, devices).map((p, i) => ({ ...p, value: w * 400 + i }));
      sent.push(...batch);
      await c.write(batch, never());
    }
    await r.until(() => r.messages.length >= sent.length, 15_000);
    expect(r.messages).toHaveLength(sent.length);
    for (const d of devices) {
      const got = r.messages.filter((m) => m.attributes.device_id === d);
      expect(got.every((m) => m.orderingKey === d)).toBe(true);
      expect(got.map((m) => pointsOf(m)[0]?.id)).toEqual(sent.filter((p) => p.deviceId === d).map((p) => p.id));
    }
  });

  it('messages: batch: one JSON array per ordering key, with count and device_id, read back whole', async () => {
    const r = await f.reader('batch', { ordered: true });
    const c = connector({ topic: 'batch', messages: 'batch', ordering: 'per-device' });
    await c.connect();
    const batch = points(300, ['A', 'B', 'C']);
    await c.write(batch, never());
    await r.until(() => r.messages.length >= 3, 10_000);
    expect(r.messages).toHaveLength(3);
    for (const m of r.messages) {
      expect(m.attributes.count).toBe('100');
      expect(m.orderingKey).toBe(m.attributes.device_id);
      expect(pointsOf(m).map((p) => p.id)).toEqual(
        batch.filter((p) => p.deviceId === m.attributes.device_id).map((p) => p.id),
      );
    }
  });

  it('a topic per device through the template', async () => {
    const ra = await f.reader('dev-a');
    const rb = await f.reader('dev-b');
    const c = connector({ topic: 'dev-{device_id}' });
    await c.connect();
    await c.write(points(10, ['a', 'b']), never());
    await ra.until(() => ra.messages.length >= 5, 10_000);
    await rb.until(() => rb.messages.length >= 5, 10_000);
    expect(ra.messages.map((m) => m.attributes.device_id)).toEqual(Array(5).fill('a'));
    expect(rb.messages.map((m) => m.attributes.device_id)).toEqual(Array(5).fill('b'));
  });

  it('a missing topic is a ConfigError naming it, at connect and at publish (templated topic)', async () => {
    const fixed = connector({ topic: 'no-such-topic' });
    const refused = (await fixed.connect().catch((e: unknown) => e)) as Error & { kind: string };
    expect(refused.kind).toBe('config');
    expect(refused.message).toContain('projects/bifrost-test/topics/no-such-topic');
    const templated = connector({ topic: 'missing-{device_id}' });
    await templated.connect();
    const err = await templated.write(points(2, ['x']), never()).catch((e: unknown) => e);
    expect(isBifrostError(err) && err.kind).toBe('config');
    expect((err as Error).message).toContain('projects/bifrost-test/topics/missing-x');
  });

  it('the raw library (6.3.0): a failed ordered batch fails the messages queued behind it on the key, then the key publishes again', async () => {
    // Older clients kept the error on the key until resumePublishing(key); 6.3.0 rejects what was
    // queued behind the failed batch and drops the key's queue, so a later publish goes out. The
    // connector calls resumePublishing after any failure either way (the documented contract).
    const pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: f.proxied, emulatorMode: true });
    try {
      const topic = pubsub.topic('resume', publishOptions(true));
      await topic.publishMessage({ data: Buffer.from('1'), orderingKey: 'K' });
      await f.proxy.disable();
      const failing = topic.publishMessage({ data: Buffer.from('2'), orderingKey: 'K' });
      const behind = topic.publishMessage({ data: Buffer.from('3'), orderingKey: 'K' });
      await expect(failing).rejects.toMatchObject({ code: 14 });
      await expect(behind).rejects.toMatchObject({ code: 14 });
      await f.proxy.enable();
      await expect(until(() => topic.publishMessage({ data: Buffer.from('4'), orderingKey: 'K' }))).resolves.toBeTypeOf(
        'string',
      );
    } finally {
      await f.proxy.enable();
      await pubsub.close();
    }
  });

  it('after a failed ordered publish the connector resumes the key: the next write on the same client goes out, in order', async () => {
    const r = await f.reader('resume', { ordered: true });
    const c = connector({ topic: 'resume', ordering: 'per-device' });
    await c.connect();
    const first = points(50, ['K1', 'K2']);
    await c.write(first, never());
    await f.proxy.disable();
    const failed = points(50, ['K1', 'K2']);
    const err = await c.write(failed, never()).catch((e: unknown) => e);
    expect(isBifrostError(err) && err.kind).toBe('transient');
    await f.proxy.enable();
    // No connect() in between: the same client and its ordered queues (retried while gRPC reconnects).
    await until(() => c.write(failed, never()));
    const after = points(50, ['K1', 'K2']);
    await c.write(after, never());
    const all = [...first, ...failed, ...after];
    await r.until(() => new Set(r.messages.map((m) => m.attributes.id)).size >= all.length, 15_000);
    const ids = new Set(r.messages.map((m) => m.attributes.id));
    expect(all.every((p) => ids.has(p.id))).toBe(true);
    for (const key of ['K1', 'K2']) {
      // First copies in arrival order follow the send order (a duplicate of a failed write may come before its retry).
      const seen: string[] = [];
      for (const m of r.messages)
        if (m.orderingKey === key && m.attributes.id && !seen.includes(m.attributes.id)) seen.push(m.attributes.id);
      expect(seen).toEqual(all.filter((p) => p.deviceId === key).map((p) => p.id));
    }
  });

  it('an aborted write stops waiting at once and drops its client; the next connect publishes again', async () => {
    const c = connector({ topic: 'attrs' });
    await c.connect();
    await f.proxy.addToxic({ type: 'timeout', attributes: { timeout: 0 } });
    try {
      const ac = new AbortController();
      const started = Date.now();
      const writing = c.write(points(10, ['A']), { signal: ac.signal });
      setTimeout(() => ac.abort(), 300);
      await expect(writing).rejects.toMatchObject({ kind: 'transient', code: 'BIFROST_ERR_ABORTED' });
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect(c.write(points(1, ['A']), never())).rejects.toMatchObject({ code: 'BIFROST_ERR_NOT_CONNECTED' });
    } finally {
      for (const t of await f.proxy.toxics()) await f.proxy.removeToxic(t);
    }
    await c.connect();
    await c.write(points(5, ['A']), never());
  });

  it('PUBSUB_EMULATOR_HOST alone (no emulator, no api_endpoint) reaches the emulator without credentials', async () => {
    const saved = process.env.PUBSUB_EMULATOR_HOST;
    process.env.PUBSUB_EMULATOR_HOST = f.proxied;
    try {
      const r = await f.reader('attrs');
      const c = new GcpPubSubConnector(gcpPubSubConfigSchema.parse({ project_id: PROJECT, topic: 'attrs' }), ctx());
      connectors.push(c);
      await c.connect();
      await c.write(points(3, ['E']), never());
      await r.until(() => r.messages.length >= 3, 10_000);
      expect(r.messages).toHaveLength(3);
    } finally {
      if (saved === undefined) delete process.env.PUBSUB_EMULATOR_HOST;
      else process.env.PUBSUB_EMULATOR_HOST = saved;
    }
  });

  it('the definition declares Pub/Sub limits; the byte cut is per instance (messages: batch only)', () => {
    expect(gcpPubSub.capabilities).toEqual({ ordering: 'per-device', maxBatch: 1000 });
  });
});
