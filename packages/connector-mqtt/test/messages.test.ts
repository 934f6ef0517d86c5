import type { DataPoint } from '@bifrost/core';
import { describe, expect, it } from 'vitest';
import { ID_PROPERTY, buildMessages, type MessageFormat } from '../src/messages.js';
import { TopicResolver } from '../src/topic.js';

const topics = () =>
  new TopicResolver('{topic_prefix}/{device_id}/{tag_name}', 'p', { data: 'd', event: 'e', alarm: 'a' });
const pt = (i: number, over: Partial<DataPoint> = {}): DataPoint => ({
  id: `id${i}`,
  deviceId: `dev${i % 2}`,
  tagName: 't',
  value: i,
  quality: 'GOOD',
  timestamp: 1_700_000_000_000 + i,
  ...over,
});
const fmt = (over: Partial<MessageFormat> = {}): MessageFormat => ({
  format: 'json',
  qos: 1,
  retain: false,
  idProperty: false,
  ...over,
});

describe('buildMessages', () => {
  it('json: one message per point carrying the whole point, id included', () => {
    const batch = [pt(1), pt(2, { unit: 'C', tags: { line: '3' } })];
    const { messages, poison } = buildMessages(batch, topics(), fmt({ retain: true, qos: 2 }));
    expect(poison).toEqual([]);
    expect(messages.map((m) => m.topic)).toEqual(['p/dev1/t', 'p/dev0/t']);
    expect(messages.map((m) => JSON.parse(m.payload) as unknown)).toEqual(batch);
    expect(messages[0]?.options).toEqual({ qos: 2, retain: true });
    expect(messages[1]?.ids).toEqual(['id2']);
  });

  it('never puts the host lane priority on the wire (json and json-batch)', () => {
    const batch = [pt(1, { priority: 9 }), pt(3, { priority: 0 })];
    const single = buildMessages(batch, topics(), fmt());
    for (const m of single.messages) expect(JSON.parse(m.payload)).not.toHaveProperty('priority');
    expect(single.messages.map((m) => (JSON.parse(m.payload) as { id: string }).id)).toEqual(['id1', 'id3']);
    const grouped = buildMessages(batch, topics(), fmt({ format: 'json-batch' }));
    expect(grouped.messages).toHaveLength(1);
    expect(grouped.messages[0]!.payload).not.toContain('priority');
    // The caller's points are not modified.
    expect(batch[0]!.priority).toBe(9);
  });

  it('MQTT 5: adds the bifrost-id user property', () => {
    const { messages } = buildMessages([pt(1)], topics(), fmt({ idProperty: true }));
    expect(messages[0]?.options.properties?.userProperties).toEqual({ [ID_PROPERTY]: 'id1' });
  });

  it('json-batch: one array per topic, in batch order', () => {
    const batch = [pt(1), pt(2), pt(3), pt(4)];
    const { messages } = buildMessages(batch, topics(), fmt({ format: 'json-batch' }));
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatchObject({ topic: 'p/dev1/t', ids: ['id1', 'id3'] });
    expect(JSON.parse(messages[1]?.payload ?? 'null')).toEqual([batch[1], batch[3]]);
  });

  it('returns points with an invalid topic or over the packet limit as poison, sends the rest', () => {
    const batch = [pt(1), pt(2, { deviceId: 'a/#' }), pt(3, { value: 'x'.repeat(400) })];
    const { messages, poison } = buildMessages(batch, topics(), fmt({ maxPacketSize: 256 }));
    expect(messages.map((m) => m.ids[0])).toEqual(['id1']);
    expect(poison).toEqual([
      { id: 'id2', reason: expect.stringMatching(/wildcard/) as unknown, kind: 'payload' },
      {
        id: 'id3',
        reason: expect.stringMatching(/exceeds the broker's maximum packet size of 256 bytes/) as unknown,
        kind: 'payload',
      },
    ]);
  });

  it('json-batch: splits a group that exceeds the packet limit and isolates the single oversized point', () => {
    const batch = Array.from({ length: 8 }, (_, i) => pt(i * 2, { deviceId: 'same' }));
    batch[5] = pt(10, { deviceId: 'same', value: 'y'.repeat(600) });
    const { messages, poison } = buildMessages(batch, topics(), fmt({ format: 'json-batch', maxPacketSize: 500 }));
    expect(poison.map((p) => p.id)).toEqual(['id10']);
    expect(messages.flatMap((m) => m.ids).sort()).toEqual(
      batch
        .map((p) => p.id)
        .filter((id) => id !== 'id10')
        .sort(),
    );
    for (const m of messages) expect(Buffer.byteLength(m.payload)).toBeLessThan(500);
  });
});
