// The connector against the IoT Hub emulator beyond the conformance suite: batch messages and their
// properties, module identities, a fixed SAS token that expired, SAS renewal, throttling, the twin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iotHubSasToken, newDeviceKey, showPeerLogsOnFailure, silentLogger } from '@bifrost/connector-testkit';
import {
  AuthError,
  PartialWriteError,
  TransientError,
  newPointId,
  type DataPoint,
  type PluginContext,
} from '@bifrost/core';
import { AzureIotConnector, azureIotConfigSchema, batchMessageId } from '../src/index.js';
import { startHub, stopHub, type Hub } from './support/hub.js';

let h: Hub;
const open: AzureIotConnector[] = [];

function connector(config: Record<string, unknown>): AzureIotConnector {
  const ctx: PluginContext = {
    name: 'azure-test',
    logger: silentLogger,
    signal: new AbortController().signal,
    tls: h.tls.clientTls('tls'),
  };
  const c = new AzureIotConnector(azureIotConfigSchema.parse(config), ctx);
  open.push(c);
  return c;
}

const never = () => ({ signal: new AbortController().signal });

function points(n: number, over: Partial<DataPoint> = {}): DataPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: newPointId(),
    deviceId: 'press-1',
    tagName: `t${i % 3}`,
    value: i,
    quality: 'GOOD',
    timestamp: 1_760_000_000_000 + i,
    ...over,
  }));
}

showPeerLogsOnFailure(() => [h.hub]);
beforeAll(async () => {
  h = await startHub();
}, 60_000);
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  if (h) await stopHub(h);
});

describe('azure-iot on the emulator', () => {
  it('batch: one JSON array per set of property values, with count, shared properties and a stable messageId', async () => {
    const c = connector({
      connection_string: h.hub.connectionString(h.device),
      messages: 'batch',
      properties: { line: '{tags.line}', site: 'plant-a' },
    });
    await c.connect();
    const since = (await h.hub.stats()).lastSeq;
    const a = points(5, { tags: { line: 'A' } });
    const b = points(3, { tags: { line: 'B' }, quality: 'BAD' });
    await c.write([...a, ...b], never());
    const got = await h.hub.messages(since);
    expect(got).toHaveLength(2);
    const [ma, mb] = got;
    expect(ma?.system).toMatchObject({
      mid: batchMessageId(a.map((p) => p.id)),
      ct: 'application/json',
      ce: 'utf-8',
    });
    expect(ma?.properties).toEqual({
      device_id: 'press-1',
      quality: 'GOOD',
      count: '5',
      line: 'A',
      site: 'plant-a',
      'iothub-creation-time-utc': new Date(a[0]!.timestamp).toISOString(),
    });
    expect(mb?.properties).toMatchObject({ line: 'B', quality: 'BAD', count: '3' });
    expect((JSON.parse(ma!.body) as DataPoint[]).map((p) => p.id)).toEqual(a.map((p) => p.id));
  });

  it('a point over 256 KB is refused before the wire while the rest of its batch is delivered', async () => {
    const c = connector({ connection_string: h.hub.connectionString(h.device) });
    await c.connect();
    const small = points(3);
    const [big] = points(1, { value: 'x'.repeat(256 * 1024) });
    const err = await c.write([...small, big!], never()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).accepted).toEqual(small.map((p) => p.id));
    expect((err as PartialWriteError).rejected).toMatchObject([{ id: big!.id, kind: 'payload' }]);
  });

  it('a module identity sends on its module topic', async () => {
    const mod = { deviceId: 'gateway-1', moduleId: 'bifrost', key: newDeviceKey() };
    await h.hub.register(mod);
    const c = connector({ connection_string: h.hub.connectionString(mod) });
    await c.connect();
    const since = (await h.hub.stats()).lastSeq;
    await c.write(points(2), never());
    expect(await h.hub.messages(since)).toMatchObject([
      { deviceId: 'gateway-1', moduleId: 'bifrost' },
      { deviceId: 'gateway-1', moduleId: 'bifrost' },
    ]);
  });

  it('a fixed SharedAccessSignature that expired is an AuthError; a valid one connects', async () => {
    const resource = `${h.hub.hubHost}/devices/${h.device.deviceId}`;
    const cs = (expiry: number) =>
      `HostName=${h.hub.hubHost};DeviceId=${h.device.deviceId};SharedAccessSignature=${iotHubSasToken(resource, h.device.key, expiry)};GatewayHostName=${h.hub.gateway}`;
    const expired = connector({ connection_string: cs(Math.floor(Date.now() / 1000) - 60) });
    const err = await expired.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((await h.hub.connects()).at(-1)?.reason).toMatch(/expired/);
    const valid = connector({ connection_string: cs(Math.floor(Date.now() / 1000) + 600) });
    await valid.connect();
    await valid.write(points(1), never());
  });

  it('X.509 with a certificate whose thumbprint is not registered is an AuthError naming the certificate', async () => {
    const ctx: PluginContext = {
      name: 'azure-x509',
      logger: silentLogger,
      signal: new AbortController().signal,
      tls: h.tls.clientTls('foreign-cert'),
    };
    const c = new AzureIotConnector(
      azureIotConfigSchema.parse({ connection_string: h.hub.connectionString(h.x509Device), x509: true }),
      ctx,
    );
    open.push(c);
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toMatch(/thumbprint/);
    expect((await h.hub.connects()).at(-1)).toMatchObject({ clientId: 'x509-device', auth: 'x509', ok: false });
  });

  it('renews its SAS token before expiry and keeps sending', async () => {
    const c = connector({ connection_string: h.hub.connectionString(h.device), sas_ttl: '10s' });
    const before = (await h.hub.connects()).filter((x) => x.ok && x.clientId === h.device.deviceId).length;
    await c.connect();
    const sent = [];
    // A token of 10 s is renewed after about 7 s; write across that.
    for (let i = 0; i < 12; i++) {
      const batch = points(5);
      await c.write(batch, never());
      sent.push(...batch);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const connects = (await h.hub.connects()).filter((x) => x.ok && x.clientId === h.device.deviceId);
    expect(connects.length - before, 'CONNECTs with a fresh token').toBeGreaterThanOrEqual(2);
    const ids = new Set((await h.hub.messages()).map((m) => m.system.mid));
    expect(sent.filter((p) => !ids.has(p.id))).toEqual([]);
  }, 30_000);

  it('a write awaiting PUBACKs the hub withholds fails transient when the host cancels it', async () => {
    const c = connector({ connection_string: h.hub.connectionString(h.device) });
    await c.connect();
    await h.hub.setBehaviour({ dropPubacks: true });
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 500);
      const err = await c.write(points(3), { signal: ac.signal }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).code).toBe('BIFROST_ERR_AZURE_IOT_WRITE_CANCELLED');
      expect((await c.healthCheck()).ok, 'a connection that answered nothing is dropped').toBe(false);
    } finally {
      await h.hub.reset({ keepMessages: true });
    }
  });

  it('twin_update: the latest value per device and tag reaches the reported properties; a throttled patch is retried', async () => {
    const c = connector({
      connection_string: h.hub.connectionString(h.device),
      twin_update: true,
      twin_interval: '1h',
    });
    await c.connect();
    await c.write(points(3, { deviceId: 'press.1' }), never());
    await c.write([...points(1, { deviceId: 'press.1', value: 99, timestamp: 1_770_000_000_000 })], never());
    await h.hub.setBehaviour({ twinPatchStatus: 429 });
    await c.flushTwin();
    expect((await h.hub.twin(h.device.deviceId))?.reported?.press_1).toBeUndefined();
    await h.hub.reset({ keepMessages: true });
    await c.flushTwin();
    const reported = (await h.hub.twin(h.device.deviceId))?.reported as Record<string, Record<string, unknown>>;
    expect(reported.press_1).toEqual({
      t0: { value: 99, quality: 'GOOD', timestamp: 1_770_000_000_000 },
      t1: { value: 1, quality: 'GOOD', timestamp: 1_760_000_000_001 },
      t2: { value: 2, quality: 'GOOD', timestamp: 1_760_000_000_002 },
    });
  });
});
