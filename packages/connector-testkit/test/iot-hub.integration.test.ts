// The IoT Hub emulator on its own, driven with plain mqtt.js (not the Azure SDK), so a connector
// that sends garbage cannot pass: tokens signed with the wrong key, expired or for another device are
// refused, as are wrong user names, unknown devices and unregistered certificates; only the
// telemetry topic is accepted, its property bag parsed; over 256 KB disconnects; twin requests answered.
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import {
  createTlsFixture,
  iotHubSasToken,
  newDeviceKey,
  showPeerLogsOnFailure,
  startIotHubEmulator,
  type IotHubEmulatorPeer,
  type TlsFixture,
} from '../src/index.js';

let hub: IotHubEmulatorPeer;
let tls: TlsFixture;
const device = { deviceId: 'dev-1', key: newDeviceKey() };
const module_ = { deviceId: 'dev-1', moduleId: 'mod-a', key: newDeviceKey() };
const clients: MqttClient[] = [];

const thumbprint = (pem: string) => createHash('sha1').update(new X509Certificate(pem).raw).digest('hex');
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

function options(clientId: string, extra: Partial<IClientOptions> = {}): IClientOptions {
  return {
    clientId,
    username: `${hub.hubHost}/${clientId}/?api-version=2021-04-12`,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ca: tls.ca.cert,
    ...extra,
  };
}

async function connect(clientId: string, extra: Partial<IClientOptions> = {}): Promise<MqttClient> {
  const c = await connectAsync(`mqtts://localhost:${hub.ports.mqtts}`, options(clientId, extra));
  clients.push(c);
  return c;
}

const sasFor = (id: { deviceId: string; moduleId?: string; key: string }, expiry = inAnHour(), key = id.key) =>
  iotHubSasToken(`${hub.hubHost}/devices/${id.deviceId}${id.moduleId ? `/modules/${id.moduleId}` : ''}`, key, expiry);

/** The CONNACK return code a refused CONNECT got (mqtt.js puts it on the error's `code`). */
async function refusal(clientId: string, extra: Partial<IClientOptions>): Promise<number | undefined> {
  const err = await connect(clientId, extra).then(
    () => undefined,
    (e: unknown) => e as { code?: number },
  );
  expect(err, 'CONNECT must be refused').toBeDefined();
  return err?.code;
}

async function lastConnect() {
  const all = await hub.connects();
  return all[all.length - 1];
}

/** Resolves when the client's connection closes, or with false after `ms`. */
const closed = (c: MqttClient, ms: number) =>
  new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    c.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });

showPeerLogsOnFailure(() => [hub]);
beforeAll(async () => {
  tls = createTlsFixture();
  hub = await startIotHubEmulator({
    tls: tls.serverTls(),
    devices: [device, module_, { deviceId: 'cert-dev', thumbprint: thumbprint(tls.client.cert) }],
  });
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await hub?.dispose();
  tls?.dispose();
});

describe('iot-hub emulator: CONNECT as IoT Hub checks it', () => {
  it('accepts a SAS token signed with the device key and records the CONNECT', async () => {
    const c = await connect('dev-1', { password: sasFor(device) });
    expect(c.connected).toBe(true);
    expect(await lastConnect()).toMatchObject({ clientId: 'dev-1', auth: 'sas', ok: true });
  });

  it('refuses a token signed with the wrong key (CONNACK 5, not authorized)', async () => {
    expect(await refusal('dev-1', { password: sasFor(device, inAnHour(), newDeviceKey()) })).toBe(5);
    expect(await lastConnect()).toMatchObject({ ok: false, reason: 'the signature does not match' });
  });

  it('refuses an expired token', async () => {
    expect(await refusal('dev-1', { password: sasFor(device, Math.floor(Date.now() / 1000) - 5) })).toBe(5);
    expect((await lastConnect())?.reason).toMatch(/expired/);
  });

  it("refuses another device's valid token, a wrong user name and an unknown device", async () => {
    const other = { deviceId: 'dev-2', key: device.key };
    await hub.register(other);
    expect(await refusal('dev-1', { password: sasFor(other) })).toBe(5);
    expect((await lastConnect())?.reason).toMatch(/not .*devices\/dev-1/);
    expect(await refusal('dev-1', { password: sasFor(device), username: 'someone-else' })).toBe(5);
    expect((await lastConnect())?.reason).toMatch(/user name/);
    expect(await refusal('ghost', { password: sasFor({ deviceId: 'ghost', key: device.key }) })).toBe(2);
  });

  it('accepts a module identity (client id device/module) with its own key', async () => {
    const c = await connect('dev-1/mod-a', { password: sasFor(module_) });
    expect(c.connected).toBe(true);
  });

  it('accepts the client certificate with the registered thumbprint and refuses another one', async () => {
    const ok = await connect('cert-dev', { cert: tls.client.cert, key: tls.client.key });
    expect(ok.connected).toBe(true);
    expect(await lastConnect()).toMatchObject({ auth: 'x509', ok: true });
    expect(await refusal('cert-dev', { cert: tls.foreignClient.cert, key: tls.foreignClient.key })).toBe(5);
    expect((await lastConnect())?.reason).toMatch(/thumbprint/);
  });
});

describe('iot-hub emulator: telemetry', () => {
  it('stores a message on devices/{id}/messages/events/ with its property bag parsed', async () => {
    const c = await connect('dev-1', { password: sasFor(device) });
    const since = (await hub.stats()).lastSeq;
    await c.publishAsync('devices/dev-1/messages/events/%24.mid=m-1&%24.ct=application%2Fjson&line=A%2F1', '{"v":1}', {
      qos: 1,
    });
    const [m] = await hub.messages(since);
    expect(m).toMatchObject({
      deviceId: 'dev-1',
      system: { mid: 'm-1', ct: 'application/json' },
      properties: { line: 'A/1' },
      body: '{"v":1}',
    });
  });

  it('stores module messages under devices/{id}/modules/{module}/messages/events/', async () => {
    const c = await connect('dev-1/mod-a', { password: sasFor(module_) });
    const since = (await hub.stats()).lastSeq;
    await c.publishAsync('devices/dev-1/modules/mod-a/messages/events/k=v', 'x', { qos: 1 });
    expect(await hub.messages(since)).toMatchObject([{ deviceId: 'dev-1', moduleId: 'mod-a', properties: { k: 'v' } }]);
  });

  it("disconnects a PUBLISH on another topic or another device's topic, storing nothing", async () => {
    const since = (await hub.stats()).lastSeq;
    for (const topic of ['devices/dev-2/messages/events/', 'plant/line-1']) {
      const c = await connect('dev-1', { password: sasFor(device) });
      const gone = closed(c, 5_000);
      c.publish(topic, 'x', { qos: 1 });
      expect(await gone, topic).toBe(true);
    }
    expect(await hub.messages(since)).toEqual([]);
  });

  it('disconnects a message over 256 KB, storing nothing', async () => {
    const c = await connect('dev-1', { password: sasFor(device) });
    const since = (await hub.stats()).lastSeq;
    const gone = closed(c, 5_000);
    c.publish('devices/dev-1/messages/events/', 'x'.repeat(256 * 1024), { qos: 1 });
    expect(await gone).toBe(true);
    expect(await hub.messages(since)).toEqual([]);
  });

  it('throttles on demand: PUBACKs delayed, then dropped', async () => {
    const c = await connect('dev-1', { password: sasFor(device) });
    await hub.setBehaviour({ pubackDelayMs: 600 });
    const t0 = Date.now();
    await c.publishAsync('devices/dev-1/messages/events/', 'slow', { qos: 1 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    await hub.setBehaviour({ pubackDelayMs: 0, dropPubacks: true });
    const acked = await Promise.race([
      c.publishAsync('devices/dev-1/messages/events/', 'dropped', { qos: 1 }).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 1_000)),
    ]);
    expect(acked).toBe(false);
    await hub.reset({ keepMessages: true });
  });

  it('keeps acknowledged messages across a restart and a SIGKILL', async () => {
    const before = (await hub.messages()).length;
    expect(before).toBeGreaterThan(0);
    await hub.restart();
    expect(await hub.messages()).toHaveLength(before);
    await hub.kill();
    await hub.start();
    expect(await hub.messages()).toHaveLength(before);
  });
});

describe('iot-hub emulator: device twin', () => {
  it('answers GET and a reported PATCH with the request id, 204 and the new version; 429 when scripted', async () => {
    const c = await connect('dev-1', { password: sasFor(device) });
    await c.subscribeAsync('$iothub/twin/res/#', { qos: 0 });
    const answers: Array<{ topic: string; body: string }> = [];
    c.on('message', (topic, body) => answers.push({ topic, body: body.toString() }));
    const answer = async (rid: string) => {
      for (let i = 0; i < 50 && !answers.some((a) => a.topic.includes(`$rid=${rid}`)); i++)
        await new Promise((r) => setTimeout(r, 100));
      return answers.find((a) => a.topic.includes(`$rid=${rid}`));
    };
    c.publish('$iothub/twin/PATCH/properties/reported/?$rid=1', JSON.stringify({ press: { temp: 21 } }));
    expect((await answer('1'))?.topic).toMatch(/^\$iothub\/twin\/res\/204\/\?\$rid=1&\$version=\d+$/);
    c.publish('$iothub/twin/GET/?$rid=2', '');
    const got = await answer('2');
    expect(got?.topic).toBe('$iothub/twin/res/200/?$rid=2');
    expect(JSON.parse(got?.body ?? '{}')).toMatchObject({ reported: { press: { temp: 21 } } });
    await hub.setBehaviour({ twinPatchStatus: 429 });
    c.publish('$iothub/twin/PATCH/properties/reported/?$rid=3', JSON.stringify({ press: { temp: 22 } }));
    expect((await answer('3'))?.topic).toBe('$iothub/twin/res/429/?$rid=3');
    await hub.reset({ keepMessages: true });
    expect((await hub.twin('dev-1'))?.reported).toEqual({ press: { temp: 21 } });
  });
});
