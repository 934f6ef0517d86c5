// The connector with a fake SDK client: the PUBACK window, a lost connection, cancellation, twin
// coalescing and the window helper. The real SDK is exercised against the emulator (integration).
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';
import { ConfigError, PartialWriteError, TransientError, type DataPoint, type PluginContext } from '@bifrost/core';
import {
  AzureIotConnector,
  MAX_BATCH_BYTES,
  TwinReporter,
  azureIotConfigSchema,
  sendWindowed,
  twinPropertyName,
  type AzureSdk,
  type IotClientLike,
  type PlannedMessage,
  type ReportedPatch,
} from '../src/index.js';

const CS = `HostName=hub;DeviceId=d1;SharedAccessKey=${Buffer.from('key').toString('base64')}`;

class FakeClient extends EventEmitter implements IotClientLike {
  inflight = 0;
  maxInflight = 0;
  pending: Array<{ message: PlannedMessage; ack: () => void; fail: (e: Error) => void }> = [];
  auto = true;
  open = () => Promise.resolve();
  close = () => Promise.resolve();
  setOptions = () => Promise.resolve();
  getTwin = () => Promise.reject(new Error('no twin'));
  sendEvent(message: unknown): Promise<unknown> {
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    return new Promise((resolve, reject) => {
      const done = () => this.inflight--;
      const entry = {
        message: message as PlannedMessage,
        ack: () => (done(), resolve({})),
        fail: (e: Error) => (done(), reject(e)),
      };
      if (this.auto) setTimeout(entry.ack, 1);
      else this.pending.push(entry);
    });
  }
}

function setup(config: Record<string, unknown> = {}) {
  const client = new FakeClient();
  const sdk: AzureSdk = { createClient: () => client, toMessage: (m) => m };
  const ctx = { name: 't', logger: silentLogger, signal: new AbortController().signal } as PluginContext;
  const c = new AzureIotConnector(azureIotConfigSchema.parse({ connection_string: CS, ...config }), ctx, {
    sdk: () => Promise.resolve(sdk),
  });
  return { c, client };
}

const points = (n: number): DataPoint[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    deviceId: 'd',
    tagName: 't',
    value: i,
    quality: 'GOOD',
    timestamp: i,
  }));
const never = () => ({ signal: new AbortController().signal });

describe('AzureIotConnector', () => {
  it('keeps at most max_inflight messages awaiting PUBACK and resolves after all', async () => {
    const { c, client } = setup({ max_inflight: 4 });
    await c.connect();
    const receipt = await c.write(points(50), never());
    expect(client.maxInflight).toBe(4);
    expect(receipt.bytes).toBeGreaterThan(0);
  });

  it('cuts batches by bytes only in batch mode, where a batch is one message', () => {
    expect(setup({ messages: 'batch' }).c.maxBatchBytes).toBe(MAX_BATCH_BYTES);
    expect(setup().c.maxBatchBytes).toBeUndefined();
  });

  it('refuses reserved or built-in property names', () => {
    expect(() => setup({ properties: { device_id: 'x' } })).toThrow(ConfigError);
    expect(() => setup({ properties: { 'iothub-foo': 'x' } })).toThrow(/reserved by IoT Hub/);
    expect(() => setup({ messages: 'batch', properties: { count: 'x' } })).toThrow(/set by the connector/);
  });

  it('a lost connection fails the write at once; acknowledged messages count as a partial write', async () => {
    const { c, client } = setup({ max_inflight: 2 });
    client.auto = false;
    await c.connect();
    const write = c.write(points(4), never()).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 5));
    client.pending[0]?.ack();
    await new Promise((r) => setTimeout(r, 5));
    client.emit('disconnect', { transportObj: Object.assign(new Error('gone'), { name: 'NotConnectedError' }) });
    const err = await write;
    expect(err).toBeInstanceOf(PartialWriteError);
    expect((err as PartialWriteError).accepted).toEqual(['p0']);
    expect((err as PartialWriteError).rejected.map((r) => r.kind)).toEqual(['transient', 'transient', 'transient']);
    await expect(c.write(points(1), never())).rejects.toBeInstanceOf(TransientError);
    expect((await c.healthCheck()).ok).toBe(false);
  });

  it('nothing acknowledged before a disconnect: the classified error itself', async () => {
    const { c, client } = setup();
    client.auto = false;
    await c.connect();
    const write = c.write(points(3), never()).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 5));
    client.emit('disconnect', {});
    expect(await write).toMatchObject({ code: 'BIFROST_ERR_AZURE_IOT_DISCONNECTED' });
  });

  it('x509 without a certificate in ctx.tls is a config error naming the files', async () => {
    const client = new FakeClient();
    const ctx = { name: 't', logger: silentLogger, signal: new AbortController().signal } as PluginContext;
    const c = new AzureIotConnector(
      azureIotConfigSchema.parse({ connection_string: 'HostName=h;DeviceId=d;x509=true', x509: true }),
      ctx,
      { sdk: () => Promise.resolve({ createClient: () => client, toMessage: (m) => m }) },
    );
    await expect(c.connect()).rejects.toThrow(/cert_file and key_file/);
  });
});

describe('sendWindowed', () => {
  it('stops starting messages once stopped, ending them with the stop error', async () => {
    let stop = false;
    const sent: number[] = [];
    const out = await sendWindowed(
      [1, 2, 3, 4],
      1,
      async (n) => {
        sent.push(n);
        if (n === 2) stop = true;
      },
      () => stop,
      () => new Error('stopped'),
    );
    expect(sent).toEqual([1, 2]);
    expect(out.map((o) => (o.error as Error | undefined)?.message)).toEqual([
      undefined,
      undefined,
      'stopped',
      'stopped',
    ]);
  });
});

describe('TwinReporter', () => {
  it('keeps the newest reading per device and tag, and a failed patch for the next flush', async () => {
    const t = new TwinReporter(60_000, silentLogger);
    const p = (deviceId: string, tagName: string, value: number, timestamp: number): DataPoint => ({
      id: `${deviceId}${tagName}${timestamp}`,
      deviceId,
      tagName,
      value,
      quality: 'GOOD',
      timestamp,
    });
    t.note([p('a.b', 't 1', 1, 10), p('a.b', 't 1', 2, 20), p('a.b', 't 1', 0, 5), p('c', '$x', 3, 1)]);
    expect(t.size).toBe(2);
    await t.flush(() => Promise.reject(new Error('429')));
    expect(t.size).toBe(2);
    const sent: ReportedPatch[] = [];
    await t.flush((patch) => {
      sent.push(patch);
      return Promise.resolve();
    });
    expect(sent).toEqual([
      {
        a_b: { t_1: { value: 2, quality: 'GOOD', timestamp: 20 } },
        c: { _x: { value: 3, quality: 'GOOD', timestamp: 1 } },
      },
    ]);
    expect(t.size).toBe(0);
  });

  it('writes names IoT Hub refuses with _', () => {
    expect(twinPropertyName('line 1.temp$')).toBe('line_1_temp_');
    expect(twinPropertyName('')).toBe('_');
  });
});

describe('AzureIotConnector payload refusals', () => {
  it('a batch of only oversized points is one PayloadError naming them', async () => {
    const { c } = setup();
    await c.connect();
    const [big] = points(1);
    const err = await c.write([{ ...big!, value: 'x'.repeat(300 * 1024) }], never()).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'payload', pointIds: ['p0'], code: 'BIFROST_ERR_AZURE_IOT_MESSAGE_TOO_LARGE' });
  });
});
