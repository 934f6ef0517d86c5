import { describe, expect, it } from 'vitest';
import { compilePointTemplate, pointJson, type DataPoint } from '@bifrost/core';
import azureIot, {
  MAX_BATCH_BYTES,
  MAX_MESSAGE_BYTES,
  batchMessageId,
  planMessages,
  type MessageFormat,
} from '../src/index.js';

const TOPIC = 'devices/d1/messages/events/';
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: 'p-1',
  deviceId: 'press 1',
  tagName: 'temp',
  value: 21.5,
  quality: 'GOOD',
  timestamp: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  ...over,
});
const fmt = (over: Partial<MessageFormat> = {}): MessageFormat => ({
  mode: 'point',
  topic: TOPIC,
  extras: [],
  ...over,
});

describe('planMessages', () => {
  it('point: the point as JSON, its id as messageId, built-in properties and the creation time', () => {
    const { messages, poison } = planMessages(
      [point({ tags: { line: 'A' }, priority: 1 })],
      fmt({ extras: [['line', compilePointTemplate('{tags.line}', { option: 'properties.line' })]] }),
    );
    expect(poison).toEqual([]);
    expect(messages).toHaveLength(1);
    const [m] = messages;
    expect(m?.messageId).toBe('p-1');
    expect(JSON.parse(m!.body)).not.toHaveProperty('priority');
    expect(m?.properties).toEqual([
      ['device_id', 'press 1'],
      ['tag_name', 'temp'],
      ['quality', 'GOOD'],
      ['line', 'A'],
      ['iothub-creation-time-utc', '2026-01-02T03:04:05.006Z'],
    ]);
    expect(m!.bytes).toBeGreaterThan(Buffer.byteLength(m!.body) + TOPIC.length);
  });

  it('leaves out an extra property that renders empty', () => {
    const { messages } = planMessages(
      [point()],
      fmt({ extras: [['line', compilePointTemplate('{tags.line}', { option: 'properties.line' })]] }),
    );
    expect(messages[0]?.properties.map(([k]) => k)).not.toContain('line');
  });

  it('refuses a message over 256 KB as poison and keeps the rest', () => {
    const big = point({ id: 'big', value: 'x'.repeat(MAX_MESSAGE_BYTES) });
    const { messages, poison } = planMessages([point(), big], fmt());
    expect(messages.map((m) => m.ids)).toEqual([['p-1']]);
    expect(poison).toMatchObject([{ id: 'big', kind: 'payload', reason: /exceeds IoT Hub's limit of 262144 bytes/ }]);
  });

  it('batch: one array per set of extra property values, shared built-ins only, count and earliest time', () => {
    const line = compilePointTemplate('{tags.line}', { option: 'properties.line' });
    const batch = [
      point({ id: 'a1', tags: { line: 'A' }, timestamp: 2000 }),
      point({ id: 'b1', tags: { line: 'B' } }),
      point({ id: 'a2', tags: { line: 'A' }, tagName: 'rpm', timestamp: 1000 }),
    ];
    const { messages } = planMessages(batch, fmt({ mode: 'batch', extras: [['line', line]] }));
    expect(messages.map((m) => m.ids)).toEqual([['a1', 'a2'], ['b1']]);
    expect(messages[0]?.messageId).toBe(batchMessageId(['a1', 'a2']));
    expect(messages[0]?.properties).toEqual([
      ['device_id', 'press 1'],
      ['quality', 'GOOD'],
      ['count', '2'],
      ['line', 'A'],
      ['iothub-creation-time-utc', new Date(1000).toISOString()],
    ]);
    expect(JSON.parse(messages[0]!.body)).toHaveLength(2);
  });

  it('a batch cut by the host to MAX_BATCH_BYTES of the plugin pointBytes fits one message', () => {
    const pts: DataPoint[] = [];
    let bytes = 0;
    for (let i = 0; ; i++) {
      const p = point({ id: `p-${i}`, value: 'v'.repeat(200) });
      if (bytes + azureIot.pointBytes(p) > MAX_BATCH_BYTES) break;
      bytes += azureIot.pointBytes(p);
      pts.push(p);
    }
    const { messages, poison } = planMessages(pts, fmt({ mode: 'batch' }));
    expect(poison).toEqual([]);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.bytes).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
  });

  it('sends the JSON the host measured, without the priority', () => {
    const p = point({ priority: 7 });
    const { messages } = planMessages([p], fmt({ mode: 'point' }));
    expect(messages[0]!.body).toBe(pointJson(p));
    expect(messages[0]!.body).not.toContain('priority');
    expect(azureIot.pointBytes(p)).toBe(Buffer.byteLength(messages[0]!.body) + 1);
  });
});
