import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  noCancel,
  requirePeer,
  startAwsShadowService,
  toxiproxyBinary,
  toxiproxyFaultProxy,
  type AwsShadowService,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import { readBack, mosquitto, mtlsPort, startBroker, tls } from './support/broker.js';
import { eventually, makeConnector } from './support/connector.js';

const toxiproxy = requirePeer('toxiproxy', toxiproxyBinary);
const THING = 'shadow-gw';

function point(deviceId: string, tagName: string, value: DataPoint['value'], timestamp = Date.now()): DataPoint {
  return { id: newPointId(), deviceId, tagName, value, quality: 'GOOD', timestamp };
}

function config(broker: MosquittoPeer, extra: Record<string, unknown> = {}, port = mtlsPort(broker)) {
  return {
    endpoint: 'localhost',
    port,
    thing_name: THING,
    client_id: `shadow-${Math.random().toString(16).slice(2, 10)}`,
    topic_prefix: 'shadow-telemetry',
    shadow_update: true,
    shadow_interval: '200ms',
    ...extra,
  };
}

describe.skipIf(!mosquitto.available)('Device Shadow against the testkit shadow service on mosquitto mTLS', () => {
  let broker: MosquittoPeer;
  let service: AwsShadowService;
  beforeAll(async () => {
    broker = await startBroker();
    service = await startAwsShadowService({ url: broker.url });
  });
  afterAll(async () => {
    await service?.close();
    await broker?.dispose();
  });

  it('coalesces the latest value per device and tag into state.reported, accepted with its clientToken', async () => {
    const shadow = 'coalesce';
    const c = makeConnector(config(broker, { shadow_name: shadow }), tls.clientTls('mtls'));
    try {
      await c.connect();
      for (let round = 0; round < 20; round++)
        await c.write(
          [point('PLC1', 'temp', round), point('PLC1', 'pressure', round * 10), point('PLC2', 'on', round % 2 === 0)],
          noCancel(),
        );
      await eventually(
        () =>
          JSON.stringify(service.document(THING, shadow)?.state.reported) ===
          JSON.stringify({ PLC1: { temp: 19, pressure: 190 }, PLC2: { on: false } }),
        5_000,
        () => `the shadow to hold the latest values, it holds ${JSON.stringify(service.document(THING, shadow))}`,
      );
      const mine = service.updates.filter((u) => u.shadow === shadow);
      // 60 points, sent as a handful of coalesced updates (one per 200 ms at most).
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.length).toBeLessThan(20);
      expect(mine.every((u) => typeof (u.request as { clientToken?: unknown }).clientToken === 'string')).toBe(true);
      await eventually(
        () => c.shadowStatus()!.accepted === mine.length,
        2_000,
        () => JSON.stringify(c.shadowStatus()),
      );
      expect(c.shadowStatus()).toMatchObject({ rejected: 0, pendingDevices: 0 });
    } finally {
      await c.close();
    }
  });

  it("retries an update refused with 409 (version conflict) and ends with both writers' values", async () => {
    const shadow = 'conflict';
    const c = makeConnector(config(broker, { shadow_name: shadow }), tls.clientTls('mtls'));
    try {
      await c.connect();
      await c.write([point('PLC1', 'temp', 1)], noCancel());
      await eventually(
        () => service.document(THING, shadow)?.version === 1,
        5_000,
        () => 'the first update',
      );
      service.writeAsOther(THING, shadow, { cloud: { note: 'set by another writer' } });
      await c.write([point('PLC1', 'temp', 2)], noCancel());
      await eventually(
        () =>
          (service.document(THING, shadow)?.state.reported as { PLC1?: { temp?: number } } | undefined)?.PLC1?.temp ===
          2,
        5_000,
        () =>
          `the retried update, updates: ${JSON.stringify(service.updates.filter((u) => u.shadow === shadow).map((u) => u.outcome))}`,
      );
      const outcomes = service.updates.filter((u) => u.shadow === shadow).map((u) => u.outcome);
      expect(outcomes).toEqual(['accepted', 409, 'accepted']);
      expect(service.document(THING, shadow)?.state.reported).toEqual({
        PLC1: { temp: 2 },
        cloud: { note: 'set by another writer' },
      });
      expect(c.shadowStatus()?.retried).toBeGreaterThanOrEqual(1);
    } finally {
      await c.close();
    }
  });

  it('splits into one named shadow per device when the whole state would exceed 8 KB', async () => {
    const c = makeConnector(config(broker, { thing_name: 'big-gw' }), tls.clientTls('mtls'));
    try {
      await c.connect();
      // 40 devices x 10 tags of 40-character strings: about 22 KB of state in one document.
      const batch: DataPoint[] = [];
      for (let d = 0; d < 40; d++)
        for (let t = 0; t < 10; t++) batch.push(point(`dev${d}`, `tag${t}`, `v${d}-${t}`.padEnd(40, '.')));
      await c.write(batch, noCancel());
      await eventually(
        () => service.shadows('big-gw').length === 40,
        10_000,
        () => `40 shadows, have ${service.shadows('big-gw').length}`,
      );
      expect(service.shadows('big-gw')).not.toContain('');
      expect(service.document('big-gw', 'dev7')?.state.reported).toMatchObject({ tag3: 'v7-3'.padEnd(40, '.') });
      expect(service.updates.filter((u) => u.thing === 'big-gw' && u.outcome !== 'accepted')).toEqual([]);
      expect(c.shadowStatus()?.perDevice).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('drops values refused with 413 as a payload error instead of retrying them', async () => {
    const shadow = 'too-big';
    const c = makeConnector(config(broker, { shadow_name: shadow }), tls.clientTls('mtls'));
    try {
      await c.connect();
      service.failNext(1, 413, 'The payload exceeds the maximum size allowed');
      await c.write([point('PLC1', 'temp', 1)], noCancel());
      await eventually(
        () => c.shadowStatus()!.rejected === 1,
        5_000,
        () => JSON.stringify(c.shadowStatus()),
      );
      await new Promise((r) => setTimeout(r, 600));
      expect(service.updates.filter((u) => u.shadow === shadow).map((u) => u.outcome)).toEqual([413]);
      expect(c.shadowStatus()?.lastError).toMatch(/413/);
    } finally {
      await c.close();
    }
  });

  it.skipIf(!toxiproxy.available)(
    'keeps shadow values through a stalled link and delivers all telemetry after it',
    async () => {
      const shadow = 'faulted';
      const proxy = await toxiproxyFaultProxy()({ host: '127.0.0.1', port: mtlsPort(broker) });
      const collector = await readBack(broker, 'shadow-telemetry/#');
      const c = makeConnector(config(broker, { shadow_name: shadow }, proxy.listen.port), tls.clientTls('mtls'));
      try {
        await c.connect();
        await c.write([point('PLC1', 'temp', 0)], noCancel());
        const removeFault = await proxy.inject({ type: 'timeout', timeoutMs: 0 });
        const stalled = [point('PLC1', 'temp', 1), point('PLC1', 'temp', 2)];
        const abort = new AbortController();
        const write = c.write(stalled, { signal: abort.signal }).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 1_000));
        abort.abort();
        expect(await write).toMatchObject({ kind: 'transient' });
        await removeFault();
        // The host would reconnect and write the batch again; do the same.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.connect();
            await c.write(stalled, noCancel());
            break;
          } catch (err) {
            if (attempt > 20) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        const got = await collector.waitFor(
          stalled.map((p) => p.id),
          10_000,
        );
        expect(got.size).toBe(2);
        await eventually(
          () =>
            (service.document(THING, shadow)?.state.reported as { PLC1?: { temp?: number } } | undefined)?.PLC1
              ?.temp === 2,
          10_000,
          () => `the shadow to catch up, it holds ${JSON.stringify(service.document(THING, shadow))}`,
        );
      } finally {
        await c.close();
        await collector.close();
        await proxy.close();
      }
    },
  );
});
