import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type MqttClient } from 'mqtt';
import {
  mosquittoBinary,
  requirePeer,
  startAwsShadowService,
  startMosquitto,
  type AwsShadowService,
  type MosquittoPeer,
} from '../src/index.js';

const mosquitto = requirePeer('mosquitto', mosquittoBinary);
const THING = 'thing-1';
const BASE = `$aws/things/${THING}/shadow`;

describe.skipIf(!mosquitto.available)('AWS IoT Device Shadow service on mosquitto', () => {
  let broker: MosquittoPeer;
  let service: AwsShadowService;
  let device: MqttClient;
  const inbox: Array<{ topic: string; body: Record<string, unknown> }> = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    service = await startAwsShadowService({ url: broker.url });
    device = connect(broker.url, { protocolVersion: 5, clientId: 'device-1' });
    await new Promise<void>((resolve) => device.once('connect', () => resolve()));
    device.on('message', (topic, payload) =>
      inbox.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> }),
    );
    await device.subscribeAsync([`${BASE}/#`, `${BASE}/name/+/#`], { qos: 1 });
  });
  afterAll(async () => {
    await device?.endAsync(true);
    await service?.close();
    await broker?.dispose();
  });

  /** Sends `body` to `<shadow topic>/<op>` and waits for the service's `<op>/accepted` or `<op>/rejected` with the token. */
  async function send(op: string, body: Record<string, unknown>, base = BASE) {
    const clientToken = Math.random().toString(16).slice(2);
    await device.publishAsync(`${base}/${op}`, JSON.stringify({ ...body, clientToken }), { qos: 1 });
    const deadline = Date.now() + 5_000;
    for (;;) {
      const hit = inbox.find(
        (m) => m.body.clientToken === clientToken && /\/(accepted|rejected)$/.test(m.topic) && m.topic.startsWith(base),
      );
      if (hit) return { outcome: hit.topic.slice(base.length + op.length + 2), body: hit.body };
      if (Date.now() > deadline) throw new Error(`no answer to ${op}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('accepts an update, keeps the document with its version, and answers get', async () => {
    const r = await send('update', { state: { reported: { temp: 21 } } });
    expect(r).toMatchObject({ outcome: 'accepted', body: { state: { reported: { temp: 21 } }, version: 1 } });
    expect(service.document(THING)).toMatchObject({ state: { reported: { temp: 21 } }, version: 1 });
    expect(await send('get', {})).toMatchObject({ outcome: 'accepted', body: { version: 1 } });
  });

  it('merges reported state; null deletes a key', async () => {
    await send('update', { state: { reported: { hum: 40, temp: null } } });
    expect(service.document(THING)?.state.reported).toEqual({ hum: 40 });
  });

  it('rejects a stale version with 409 Version conflict, the current one is accepted', async () => {
    const current = service.document(THING)!.version;
    expect(await send('update', { state: { reported: { a: 1 } }, version: current - 1 })).toMatchObject({
      outcome: 'rejected',
      body: { code: 409, message: 'Version conflict' },
    });
    expect(await send('update', { state: { reported: { a: 1 } }, version: current })).toMatchObject({
      outcome: 'accepted',
      body: { version: current + 1 },
    });
  });

  it('rejects a state over 8 KB with 413 and a missing state with 400', async () => {
    expect(await send('update', { state: { reported: { big: 'x'.repeat(8200) } } })).toMatchObject({
      outcome: 'rejected',
      body: { code: 413, message: 'The payload exceeds the maximum size allowed' },
    });
    expect(await send('update', { reported: {} })).toMatchObject({
      outcome: 'rejected',
      body: { code: 400, message: 'Missing required node: state' },
    });
  });

  it('publishes /update/delta when desired differs from reported, and keeps named shadows apart', async () => {
    await send('update', { state: { desired: { mode: 'eco' }, reported: { mode: 'boost' } } }, `${BASE}/name/cfg`);
    const deadline = Date.now() + 5_000;
    const isDelta = (m: { topic: string }) => m.topic === `${BASE}/name/cfg/update/delta`;
    while (!inbox.some(isDelta) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const delta = inbox.find(isDelta);
    expect(delta?.body).toMatchObject({ state: { mode: 'eco' } });
    expect(service.shadows(THING).sort()).toEqual(['', 'cfg']);
    expect(await send('get', {}, `${BASE}/name/other`)).toMatchObject({ outcome: 'rejected', body: { code: 404 } });
  });
});
