import { describe, expect, it } from 'vitest';
import { newPointId, type DataPoint } from '@bifrost/core';
import awsIot, { AWS_IOT_LIMITS, MAX_BATCH_BYTES, MessageBuilder, topicProblem } from '../src/index.js';

const cfg = { topic: '{topic_prefix}/{thing_name}/{device_id}/{tag_name}', topic_prefix: 'bifrost', thing_name: 'gw1' };

function point(deviceId: string, tagName: string, value: DataPoint['value'] = 1, priority?: number): DataPoint {
  return {
    id: newPointId(),
    deviceId,
    tagName,
    value,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000,
    ...(priority !== undefined && { priority }),
  };
}

describe('MessageBuilder', () => {
  it('point mode: one message per point on the templated topic, priority never on the wire', () => {
    const p = point('PLC1', 'temp', 21.5, 9);
    const { messages, poison } = new MessageBuilder(cfg, 'point').build([p]);
    expect(poison).toEqual([]);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.topic).toBe('bifrost/gw1/PLC1/temp');
    expect(JSON.parse(messages[0]!.payload)).toEqual({ ...p, priority: undefined });
    expect(messages[0]!.payload).not.toContain('priority');
  });

  it('batch mode: one JSON array per topic, in batch order', () => {
    const b = new MessageBuilder({ ...cfg, topic: '{topic_prefix}/{thing_name}/{device_id}' }, 'batch');
    const batch = [point('A', 't1'), point('B', 't1'), point('A', 't2')];
    const { messages } = b.build(batch);
    expect(messages.map((m) => m.topic)).toEqual(['bifrost/gw1/A', 'bifrost/gw1/B']);
    expect((JSON.parse(messages[0]!.payload) as DataPoint[]).map((p) => p.id)).toEqual([batch[0]!.id, batch[2]!.id]);
    expect(messages[0]!.ids).toEqual([batch[0]!.id, batch[2]!.id]);
  });

  it('Basic Ingest: the rule prefix goes in front and does not count against the limits', () => {
    const b = new MessageBuilder({ ...cfg, basic_ingest_rule: 'ingest' }, 'point');
    // 7 slashes without the prefix: allowed.
    const { messages, poison } = b.build([point('a/b/c/d', 'x')]);
    expect(poison).toEqual([]);
    expect(messages[0]!.topic).toBe('$aws/rules/ingest/bifrost/gw1/a/b/c/d/x');
  });

  it('a point over 128 KB is poison in both modes, naming the limit', () => {
    const big = point('A', 't', 'x'.repeat(AWS_IOT_LIMITS.payloadBytes));
    for (const mode of ['point', 'batch'] as const) {
      const { messages, poison } = new MessageBuilder(cfg, mode).build([big, point('A', 'u')]);
      expect(messages).toHaveLength(1);
      expect(poison).toEqual([
        {
          id: big.id,
          kind: 'payload',
          reason: expect.stringMatching(/exceeds AWS IoT's maximum message size of 131072 bytes/) as string,
        },
      ]);
    }
  });

  it('a batch the host cut to MAX_BATCH_BYTES fits one 128 KB message', () => {
    const batch: DataPoint[] = [];
    let bytes = 0;
    for (;;) {
      const p = point('A', 't', 'y'.repeat(900));
      if (bytes + awsIot.pointBytes(p) > MAX_BATCH_BYTES) break;
      bytes += awsIot.pointBytes(p);
      batch.push(p);
    }
    const { messages, poison } = new MessageBuilder({ ...cfg, topic: 'one' }, 'batch').build(batch);
    expect(poison).toEqual([]);
    expect(Buffer.byteLength(messages[0]!.payload)).toBeLessThanOrEqual(AWS_IOT_LIMITS.payloadBytes);
  });

  it('an unknown placeholder is a config error naming topic', () => {
    expect(() => new MessageBuilder({ ...cfg, topic: '{site}/{device_id}' }, 'point')).toThrow(/topic/);
  });
});

describe('topicProblem', () => {
  it('enforces 256 bytes (UTF-8), 7 slashes, no wildcards, no $', () => {
    expect(topicProblem('a/b/c/d/e/f/g/h')).toBeUndefined();
    expect(topicProblem('a/b/c/d/e/f/g/h/i')).toMatch(/8 slashes, over AWS IoT's limit of 7/);
    expect(topicProblem('é'.repeat(129))).toMatch(/258 bytes, over AWS IoT's limit of 256 bytes/);
    expect(topicProblem('a/+/b')).toMatch(/wildcard/);
    expect(topicProblem('$aws/x')).toMatch(/reserves/);
    expect(topicProblem('')).toBe('topic is empty');
  });
});
