import { TransientError, type DataPoint, type PluginContext } from '@bifrost/core';
import { noCancel } from '@bifrost/connector-testkit';
import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** A stand-in pg client: DDL answers at once; each INSERT waits until the test answers it. */
class FakeClient extends EventEmitter {
  inserts: Array<{ answer: () => void; fail: (e: Error) => void }> = [];
  destroyed = false;
  released: unknown[] = [];
  connection = {
    stream: {
      destroy: () => {
        this.destroyed = true;
      },
    },
  };
  async query(q: unknown): Promise<{ rows: unknown[] }> {
    if (typeof q === 'string') return { rows: [] };
    return new Promise((resolve, reject) => {
      this.inserts.push({ answer: () => resolve({ rows: [] }), fail: reject });
    });
  }
  release(arg?: unknown): void {
    this.released.push(arg);
  }
}
let clients: FakeClient[] = [];
vi.mock('pg', async (importOriginal) => {
  const real = (await importOriginal<{ default: Record<string, unknown> }>()).default;
  class Pool {
    on() {
      return this;
    }
    async connect() {
      const c = new FakeClient();
      clients.push(c);
      return c;
    }
    async end() {}
  }
  return { default: { ...real, Pool } };
});

const { default: timescale } = await import('../src/index.js');

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
const point = (i: number): DataPoint => ({
  id: `p${i}`,
  deviceId: 'PLC1',
  tagName: 't',
  value: i,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
});
const connected = async () => {
  const c = timescale.create(timescale.configSchema.parse({ endpoint: 'postgres://u@127.0.0.1:1/db' }), ctx);
  await c.connect();
  return c;
};
const lastInsert = async () => {
  await vi.waitFor(() => expect(clients.at(-1)?.inserts.length).toBe(1));
  return clients.at(-1)!;
};

describe('TimescaleConnector.write and its signal (fake pg)', () => {
  beforeEach(() => {
    clients = [];
  });

  it('resolves after the INSERT and returns the client to the pool', async () => {
    const c = await connected();
    const w = c.write([point(1)], noCancel());
    const client = await lastInsert();
    client.inserts[0]!.answer();
    await expect(w).resolves.toMatchObject({ bytes: expect.any(Number) as unknown });
    expect(client.released).toEqual([undefined]);
    expect(client.destroyed).toBe(false);
  });

  it('a connection lost while checked out is an error of the write, not an uncaught one, and leaves the pool', async () => {
    const c = await connected();
    const w = c.write([point(1)], noCancel());
    const client = await lastInsert();
    expect(client.listenerCount('error')).toBe(1);
    client.emit('error', new Error('Connection terminated unexpectedly'));
    client.inserts[0]!.fail(new Error('Connection terminated unexpectedly'));
    await expect(w).rejects.toBeInstanceOf(TransientError);
    expect(client.released).toEqual([true]);
    expect(client.listenerCount('error')).toBe(0);
  });

  it('throws at once, inserting nothing, when the signal is already aborted', async () => {
    const c = await connected();
    const before = clients.length;
    const ac = new AbortController();
    ac.abort(new Error('timeout'));
    await expect(c.write([point(1)], { signal: ac.signal })).rejects.toBeInstanceOf(TransientError);
    expect(clients.length).toBe(before);
  });

  it('an aborted write rejects promptly, destroys its connection, removes it from the pool; a late COMMIT is not taken', async () => {
    const c = await connected();
    const ac = new AbortController();
    const w = c.write([point(1), point(2)], { signal: ac.signal });
    const client = await lastInsert();
    ac.abort(new Error('timeout'));
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('BIFROST_ERR_PG_WRITE_CANCELLED');
    expect((err as TransientError).message).not.toMatch(/^\[bifrost\]/);
    expect(client.destroyed).toBe(true);
    expect(client.released).toEqual([true]);
    // The server's late answer changes nothing: the write already failed and the client is gone.
    client.inserts[0]!.answer();
    await new Promise((r) => setImmediate(r));
    expect(client.released).toEqual([true]);
  });
});
