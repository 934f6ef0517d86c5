import { AuthError, CapacityError, TransientError } from '@bifrost/core';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { PublishWindow, type OutgoingMessage } from '../src/publish-window.js';

type Reply = (err?: Error) => void;

/** Records publishes; the test answers each one like a broker would. */
function fakeClient() {
  const sent: Array<{ topic: string; reply: Reply }> = [];
  const client = {
    publish(topic: string, _payload: string, _opts: unknown, cb: Reply) {
      sent.push({ topic, reply: cb });
      return client;
    },
  };
  /** Answers publish number `i` like the broker would (failing the test if it was never sent). */
  const reply = (i: number, err?: Error) => {
    const publish = sent[i];
    if (!publish) throw new Error(`publish #${i} was not sent`);
    publish.reply(err);
  };
  return { client: client as unknown as MqttClient, sent, reply };
}

const msgs = (n: number): OutgoingMessage[] =>
  Array.from({ length: n }, (_, i) => ({ topic: `t${i}`, payload: '{}', options: { qos: 1 }, ids: [`id${i}`] }));
const withCode = (message: string, code: number) => Object.assign(new Error(message), { code });

describe('PublishWindow', () => {
  it('keeps at most `window` messages unacknowledged and resolves only after the last ack', async () => {
    const { client, sent, reply } = fakeClient();
    const w = new PublishWindow(client, msgs(5), 2);
    let settled = false;
    void w.done.then(() => {
      settled = true;
    });
    expect(sent.map((s) => s.topic)).toEqual(['t0', 't1']);
    reply(1);
    expect(sent.map((s) => s.topic)).toEqual(['t0', 't1', 't2']);
    for (const i of [0, 2, 3]) reply(i);
    await Promise.resolve();
    expect(settled).toBe(false);
    reply(4);
    await expect(w.done).resolves.toEqual({ rejected: [] });
  });

  it('resolves an empty batch at once', async () => {
    await expect(new PublishWindow(fakeClient().client, [], 10).done).resolves.toEqual({ rejected: [] });
  });

  it('collects poison replies per message and still waits for the others', async () => {
    const { client, reply } = fakeClient();
    const w = new PublishWindow(client, msgs(3), 10);
    reply(0);
    reply(1, withCode('Publish error: Payload format invalid', 0x99));
    reply(2);
    const { rejected } = await w.done;
    expect(rejected).toEqual([
      {
        id: 'id1',
        reason: expect.stringMatching(/Payload format invalid \(reason code 0x99\)/) as unknown,
        kind: 'payload',
      },
    ]);
  });

  it('fails the write on not authorized, quota exceeded, or a plain error', async () => {
    for (const [err, type] of [
      [withCode('Publish error: Not authorized', 0x87), AuthError],
      [withCode('Publish error: Quota exceeded', 0x97), CapacityError],
      [Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), TransientError],
    ] as const) {
      const { client, reply } = fakeClient();
      const w = new PublishWindow(client, msgs(3), 10);
      reply(1, err);
      await expect(w.done).rejects.toBeInstanceOf(type);
      reply(0);
    }
  });

  it('fail() rejects a write waiting for acks and stops sending', async () => {
    const { client, sent, reply } = fakeClient();
    const w = new PublishWindow(client, msgs(4), 2);
    w.fail(new TransientError('connection lost'));
    await expect(w.done).rejects.toThrow('connection lost');
    reply(0);
    expect(sent).toHaveLength(2);
  });
});
