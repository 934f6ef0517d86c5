import { ConfigError, type DataPoint } from '@bifrost/core';
import { describe, expect, it } from 'vitest';
import { TopicResolver } from '../src/topic.js';

const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: 'p1',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 1,
  quality: 'GOOD',
  timestamp: 0,
  ...over,
});
const channels = { data: 'telemetry', event: 'events', alarm: 'alarms' };

describe('TopicResolver', () => {
  it('fills every placeholder', () => {
    const r = new TopicResolver('{topic_prefix}/{channel}/{device_id}/{tag_name}/{quality}', 'plant', channels);
    expect(r.resolve(point())).toEqual({ topic: 'plant/telemetry/PLC001/temperature/GOOD' });
  });

  it('sends ALARM to the alarm topic and EVENT to the event topic', () => {
    const r = new TopicResolver('{topic_prefix}/{channel}/{device_id}', 'p', channels);
    expect(r.resolve(point({ quality: 'ALARM' }))).toEqual({ topic: 'p/alarms/PLC001' });
    expect(r.resolve(point({ quality: 'EVENT' }))).toEqual({ topic: 'p/events/PLC001' });
    expect(r.resolve(point({ quality: 'BAD' }))).toEqual({ topic: 'p/telemetry/PLC001' });
  });

  it('fills {tags.<key>} from the point tags', () => {
    const r = new TopicResolver('{topic_prefix}/{tags.line}/{device_id}', 'plant', channels);
    expect(r.resolve(point({ tags: { line: 'L2' } }))).toEqual({ topic: 'plant/L2/PLC001' });
    expect(r.resolve(point({ tags: { line: 'L3' } }))).toEqual({ topic: 'plant/L3/PLC001' });
  });

  it('memoised by device and tag name for the default template: the same results as building each topic', () => {
    const memo = new TopicResolver('{topic_prefix}/{device_id}/{tag_name}', 'p', channels);
    // A template reading a tag is not memoised by device and tag name; with the tag absent its topics are the same.
    const built = new TopicResolver('{topic_prefix}/{device_id}/{tag_name}{tags.none}', 'p', channels);
    const pts = ['PLC1', 'PLC2', 'bad+dev', 'PLC1'].flatMap((deviceId) =>
      ['t1', 't#', 't1', ''].map((tagName) => point({ deviceId, tagName })),
    );
    for (const p of pts) expect(memo.resolve(p)).toEqual(built.resolve(p));
    expect(memo.resolve(point({ deviceId: 'bad+dev' }))).toEqual({
      invalid: expect.stringContaining('wildcard') as unknown,
    });
    expect(memo.resolve(point({ quality: 'ALARM' }))).toBe(memo.resolve(point()));
  });

  it('reuses the same topic string for the same device, tag and quality', () => {
    const r = new TopicResolver('{topic_prefix}/{device_id}/{tag_name}', 'p', channels);
    const a = r.resolve(point());
    expect(r.resolve(point({ id: 'p2', value: 7 }))).toBe(a);
  });

  it('marks topics MQTT forbids as invalid instead of sending them', () => {
    const r = new TopicResolver('{device_id}/{tag_name}', 'p', channels);
    expect(r.resolve(point({ deviceId: 'a+b' }))).toEqual({ invalid: expect.stringMatching(/wildcard/) as unknown });
    expect(r.resolve(point({ tagName: '#' }))).toEqual({ invalid: expect.stringMatching(/wildcard/) as unknown });
    expect(r.resolve(point({ tagName: 'x'.repeat(70_000) }))).toEqual({
      invalid: expect.stringMatching(/longer than 65535 bytes/) as unknown,
    });
  });

  it('rejects an unknown placeholder with a ConfigError naming topic', () => {
    expect(() => new TopicResolver('{topic_prefix}/{device}', 'p', channels)).toThrow(ConfigError);
    expect(() => new TopicResolver('{device}', 'p', channels)).toThrow(
      /^topic: unknown placeholder \{device\}; use \{topic_prefix\}, \{channel\}, \{device_id\}/,
    );
  });
});
