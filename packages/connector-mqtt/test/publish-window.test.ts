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
  return { client: client as unknown as MqttClient, sent };
}

const msgs = (n: number): OutgoingMessage[] =>
  Array.from({ length: n }, (_, i) => ({ topic: `t${i}`, payload: '{}', options: { qos: 1 }, ids: [`id${i}`] }));
const withCode = (message: string, code: number) => Object.assign(new Error(message), { code });

describe('PublishWindow', () => {
  it('keeps at most `window` messages unacknowledged and resolves only after the last ack', async () => {
    const { client, sent } = fakeClient();
    const w = new PublishWindow(client, msgs(5), 2);
    let settled = false;
    void w.done.then(() => {
      settled = true;
    });
    expect(sent.map((s) => s.topic)).toEqual(['t0', 't1']);
    sent[1]!.reply();
    expect(sent.map((s) => s.topic)).toEqual(['t0', 't1', 't2']);
    for (const i of [0, 2, 3]) sent[i]!.reply();
    await Promise.resolve();
    expect(settled).toBe(false);
    sent[4]!.reply();
    await expect(w.done).resolves.toEqual({ rejected: [] });
  });

  it('resolves an empty batch at once', async () => {
    await expect(new PublishWindow(fakeClient().client, [], 10).done).resolves.toEqual({ rejected: [] });
  });

  it('collects poison replies per message and still waits for the others', async () => {
    const { client, sent } = fakeClient();
    const w = new PublishWindow(client, msgs(3), 10);
    sent[0]!.reply();
    sent[1]!.reply(withCode('Publish error: Payload format invalid', 0x99));
    sent[2]!.reply();
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
      const { client, sent } = fakeClient();
      const w = new PublishWindow(client, msgs(3), 10);
      sent[1]!.reply(err);
      await expect(w.done).rejects.toBeInstanceOf(type);
      sent[0]!.reply();
    }
  });

  it('fail() rejects a write waiting for acks and stops sending', async () => {
    const { client, sent } = fakeClient();
    const w = new PublishWindow(client, msgs(4), 2);
    w.fail(new TransientError('connection lost'));
    await expect(w.done).rejects.toThrow('connection lost');
    sent[0]!.reply();
    expect(sent).toHaveLength(2);
  });
});
