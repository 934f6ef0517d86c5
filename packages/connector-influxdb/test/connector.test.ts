import { TransientError, type DataPoint, type PluginContext } from '@bifrost/core';
import { noCancel } from '@bifrost/connector-testkit';
import { describe, expect, it } from 'vitest';
import influxdb, { InfluxConnector, influxConfigSchema } from '../src/index.js';

const silent = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};
const ctx: PluginContext = { name: 'unit', logger: silent, signal: new AbortController().signal };
const config = influxConfigSchema.parse({ endpoint: 'http://127.0.0.1:1', database: 'db', version: '1.x' });
const point = (i: number): DataPoint => ({
  id: `p${i}`,
  deviceId: 'PLC1',
  tagName: 't',
  value: i,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
});

/** A stand-in for the client's transport: each request waits until the test answers it, or its signal aborts. */
function fakeTransport() {
  const requests: Array<{ body: string; signal: AbortSignal; answer: () => void; aborted: boolean }> = [];
  const transport = {
    request(_path: string, body: string, opts: { signal: AbortSignal }) {
      return new Promise<void>((resolve, reject) => {
        const r = { body, signal: opts.signal, answer: () => resolve(), aborted: false };
        requests.push(r);
        opts.signal.addEventListener('abort', () => {
          r.aborted = true;
          reject(Object.assign(new Error('Response aborted'), { name: 'AbortError' }));
        });
      });
    },
  };
  return { transport, requests };
}

function connectedTo(transport: ReturnType<typeof fakeTransport>['transport']): InfluxConnector {
  const c = new InfluxConnector(config, ctx);
  (c as unknown as { client: unknown }).client = { transport };
  return c;
}

describe('InfluxConnector.write', () => {
  it('declares a byte limit under InfluxDB request body limits', () => {
    expect(influxdb.capabilities.maxBatchBytes).toBeLessThanOrEqual(10 * 1024 * 1024);
  });

  it('sends the host batch as one request', async () => {
    const { transport, requests } = fakeTransport();
    const c = connectedTo(transport);
    const batch = Array.from({ length: 12 }, (_, i) => point(i));
    const w = c.write(batch, noCancel());
    await Promise.resolve();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body.split('\n')).toHaveLength(12);
    requests[0]!.answer();
    await expect(w).resolves.toMatchObject({ bytes: expect.any(Number) as unknown });
  });

  it('throws at once, sending nothing, when the signal is already aborted', async () => {
    const { transport, requests } = fakeTransport();
    const c = connectedTo(transport);
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(c.write([point(1)], { signal: ac.signal })).rejects.toBeInstanceOf(TransientError);
    expect(requests).toHaveLength(0);
  });

  it('an aborted write aborts its HTTP request and rejects promptly; a late 204 is not taken', async () => {
    const { transport, requests } = fakeTransport();
    const c = connectedTo(transport);
    const ac = new AbortController();
    const w = c.write([point(1), point(2)], { signal: ac.signal });
    await Promise.resolve();
    expect(requests).toHaveLength(1);
    ac.abort(new Error('timeout'));
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('BIFROST_ERR_INFLUXDB_WRITE_CANCELLED');
    expect((err as TransientError).message).not.toMatch(/^\[bifrost\]/);
    expect(requests[0]!.aborted).toBe(true);
    requests[0]!.answer();
  });

  it('rejects promptly on abort even when the HTTP client ignores the signal', async () => {
    const requests: Array<() => void> = [];
    const transport = {
      request: () => new Promise<void>((resolve) => requests.push(resolve)),
    };
    const c = connectedTo(transport);
    const ac = new AbortController();
    const w = c.write([point(1)], { signal: ac.signal });
    await Promise.resolve();
    ac.abort();
    await expect(w).rejects.toBeInstanceOf(TransientError);
    requests[0]!();
  });
});
