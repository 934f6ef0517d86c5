import { describe, expect, it } from 'vitest';
import type { DataPoint } from '../data-point.js';
import { ConfigError } from '../errors.js';
import { compilePointTemplate, pointTemplatePlaceholders } from './point-template.js';

const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: 'p1',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 1,
  quality: 'GOOD',
  timestamp: 0,
  ...over,
});

describe('compilePointTemplate', () => {
  it('fills the point fields and keeps the text between them', () => {
    const t = compilePointTemplate('plant/{device_id}/{tag_name}:{quality}', { option: 'topic' });
    expect(t(point())).toBe('plant/PLC001/temperature:GOOD');
    expect(t(point({ deviceId: 'B', tagName: 'x', quality: 'ALARM' }))).toBe('plant/B/x:ALARM');
  });

  it('reads {tags.<key>}, empty when the point lacks that tag', () => {
    const t = compilePointTemplate('{tags.line}.{tags.site name}.{device_id}', { option: 'routing_key' });
    expect(t(point({ tags: { line: 'L2', 'site name': 'Oslo' } }))).toBe('L2.Oslo.PLC001');
    expect(t(point({ tags: { other: 'x' } }))).toBe('..PLC001');
    expect(t(point())).toBe('..PLC001');
    expect(compilePointTemplate('{tags.constructor}', { option: 'topic' })(point({ tags: {} }))).toBe('');
  });

  it('folds fixed connector fields in and calls function fields per point', () => {
    const t = compilePointTemplate('{topic_prefix}{channel}/{device_id}', {
      option: 'topic',
      fields: { topic_prefix: 'bifrost.', channel: (p) => (p.quality === 'ALARM' ? 'alarms' : 'data') },
    });
    expect(t(point())).toBe('bifrost.data/PLC001');
    expect(t(point({ quality: 'ALARM' }))).toBe('bifrost.alarms/PLC001');
  });

  it('lets a connector field override a built-in one', () => {
    const t = compilePointTemplate('{device_id}', {
      option: 'topic',
      fields: { device_id: (p) => p.deviceId.toLowerCase() },
    });
    expect(t(point())).toBe('plc001');
  });

  it('returns the same string for a template without point placeholders', () => {
    expect(
      compilePointTemplate('{topic_prefix}telemetry', { option: 'topic', fields: { topic_prefix: 'bifrost.' } })(
        point(),
      ),
    ).toBe('bifrost.telemetry');
    expect(compilePointTemplate('fixed', { option: 'topic' })(point())).toBe('fixed');
    expect(compilePointTemplate('', { option: 'topic' })(point())).toBe('');
  });

  it('keeps unbalanced braces as text', () => {
    expect(compilePointTemplate('a{b/{device_id}}', { option: 'topic' })(point())).toBe('a{b/PLC001}');
  });

  it('rejects an unknown placeholder with a ConfigError naming the option, the placeholder and the known ones', () => {
    const compile = (template: string) => () =>
      compilePointTemplate(template, {
        option: 'routing_key',
        code: 'BIFROST_ERR_AMQP_ROUTING_KEY_TEMPLATE',
        fields: { topic_prefix: 'p' },
      });
    expect(compile('{device}.x')).toThrow(ConfigError);
    expect(compile('{device}.x')).toThrow(
      'routing_key: unknown placeholder {device}; use {topic_prefix}, {device_id}, {tag_name}, {quality}, {tags.<key>}',
    );
    expect(compile('{tags.}')).toThrow(/unknown placeholder \{tags\.\}/);
    expect(compile('{}')).toThrow(/unknown placeholder \{\}/);
    try {
      compile('{x}')();
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).code).toBe('BIFROST_ERR_AMQP_ROUTING_KEY_TEMPLATE');
    }
  });
});

describe('pointTemplatePlaceholders', () => {
  it('lists the connector fields first, then the point fields and tags, without duplicates', () => {
    expect(pointTemplatePlaceholders()).toEqual(['{device_id}', '{tag_name}', '{quality}', '{tags.<key>}']);
    expect(pointTemplatePlaceholders(['topic_prefix', 'quality'])).toEqual([
      '{topic_prefix}',
      '{quality}',
      '{device_id}',
      '{tag_name}',
      '{tags.<key>}',
    ]);
  });
});
