import { describe, expect, it } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';
import { newPointId, type DataPoint } from '@bifrost/core';
import { deviceShadowName, ShadowReporter } from '../src/index.js';

function point(deviceId: string, tagName: string, value: DataPoint['value']): DataPoint {
  return { id: newPointId(), deviceId, tagName, value, quality: 'GOOD', timestamp: Date.now() };
}

function reporter(extra: { shadow_per_device?: boolean; shadow_name?: string } = {}) {
  const sent: Array<{ topic: string; body: { state: { reported: unknown }; clientToken: string; version?: number } }> =
    [];
  const subscribed: string[][] = [];
  const r = new ShadowReporter(
    { thing_name: 'gw', shadow_per_device: false, shadow_interval: 10_000, ...extra },
    {
      logger: silentLogger,
      publish: (topic, payload) => {
        sent.push({ topic, body: JSON.parse(payload) as (typeof sent)[number]['body'] });
        return Promise.resolve();
      },
      subscribe: (topics) => {
        subscribed.push([...topics]);
        return Promise.resolve();
      },
    },
  );
  return { r, sent, subscribed };
}

describe('ShadowReporter', () => {
  it('sends the latest value per device and tag once, to the classic shadow', async () => {
    const { r, sent, subscribed } = reporter();
    r.observe([point('A', 't', 1), point('A', 't', 2), point('B', 'u', true)]);
    await r.flush();
    expect(subscribed).toEqual([['$aws/things/gw/shadow/update/accepted', '$aws/things/gw/shadow/update/rejected']]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.topic).toBe('$aws/things/gw/shadow/update');
    expect(sent[0]!.body.state.reported).toEqual({ A: { t: 2 }, B: { u: true } });
    await r.flush();
    expect(sent).toHaveLength(1); // nothing new, and the first is still unanswered
  });

  it('accepted with the matching token clears it and keeps the version for the next update', async () => {
    const { r, sent } = reporter({ shadow_name: 'telemetry' });
    r.observe([point('A', 't', 1)]);
    await r.flush();
    r.onMessage(
      '$aws/things/gw/shadow/name/telemetry/update/accepted',
      JSON.stringify({ clientToken: 'other', version: 9 }),
    );
    expect(r.status().accepted).toBe(0);
    r.onMessage(
      '$aws/things/gw/shadow/name/telemetry/update/accepted',
      JSON.stringify({ clientToken: sent[0]!.body.clientToken, version: 4 }),
    );
    expect(r.status()).toMatchObject({ accepted: 1, pendingDevices: 0 });
    r.observe([point('A', 't', 2)]);
    await r.flush();
    expect(sent[1]!.body).toMatchObject({ version: 4, state: { reported: { A: { t: 2 } } } });
  });

  it('409 puts the values back (unless newer ones came) and resends without a version', async () => {
    const { r, sent } = reporter();
    r.observe([point('A', 't', 1), point('A', 'u', 1)]);
    await r.flush();
    r.onMessage(
      '$aws/things/gw/shadow/update/accepted',
      JSON.stringify({ clientToken: sent[0]!.body.clientToken, version: 1 }),
    );
    r.observe([point('A', 't', 2), point('A', 'u', 2)]);
    await r.flush();
    r.observe([point('A', 'u', 3)]);
    r.onMessage(
      '$aws/things/gw/shadow/update/rejected',
      JSON.stringify({ clientToken: sent[1]!.body.clientToken, code: 409 }),
    );
    await new Promise((res) => setTimeout(res, 0));
    expect(sent).toHaveLength(3);
    expect(sent[2]!.body.version).toBeUndefined();
    expect(sent[2]!.body.state.reported).toEqual({ A: { t: 2, u: 3 } });
    expect(r.status().retried).toBe(1);
  });

  it('400 drops the values as a payload error', async () => {
    const { r, sent } = reporter();
    r.observe([point('A', 't', 1)]);
    await r.flush();
    r.onMessage(
      '$aws/things/gw/shadow/update/rejected',
      JSON.stringify({ clientToken: sent[0]!.body.clientToken, code: 400, message: 'bad' }),
    );
    await r.flush();
    expect(sent).toHaveLength(1);
    expect(r.status()).toMatchObject({
      rejected: 1,
      pendingDevices: 0,
      lastError: expect.stringMatching(/400 bad/) as string,
    });
  });

  it('per device: one named shadow per device, reported holds its tags', async () => {
    const { r, sent, subscribed } = reporter({ shadow_per_device: true, shadow_name: 'line' });
    r.observe([point('A', 't', 1), point('B/2', 't', 2)]);
    await r.flush();
    expect(subscribed[0]).toEqual([
      '$aws/things/gw/shadow/name/+/update/accepted',
      '$aws/things/gw/shadow/name/+/update/rejected',
    ]);
    expect(sent.map((s) => [s.topic, s.body.state.reported])).toEqual([
      ['$aws/things/gw/shadow/name/line-A/update', { t: 1 }],
      ['$aws/things/gw/shadow/name/line-B_2/update', { t: 2 }],
    ]);
  });

  it('deviceShadowName keeps to the characters and length AWS allows', () => {
    expect(deviceShadowName(undefined, 'plc 7/a')).toBe('plc_7_a');
    expect(deviceShadowName('p', 'x'.repeat(100))).toHaveLength(64);
  });
});
