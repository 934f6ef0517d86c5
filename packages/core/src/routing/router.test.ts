import { describe, expect, it } from 'vitest';
import type { DataPoint } from '../data-point.js';
import { ConfigError } from '../errors.js';
import { createRouter, RoutingConfigError, type RoutingRule } from './router.js';

const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: '1',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 1,
  quality: 'GOOD',
  timestamp: 0,
  ...over,
});
const connectors = ['mqtt', 'influx', 'kafka', 'pg'];
const sorted = (r: Array<{ connector: string; priority: number }>) =>
  [...r].sort((a, b) => a.connector.localeCompare(b.connector));

describe('createRouter', () => {
  it('with no rules sends every point to every connector at the point priority', () => {
    const router = createRouter({ connectors });
    expect(router.route(point())).toEqual(connectors.map((connector) => ({ connector, priority: 0 })));
    expect(router.route(point({ priority: 4 })).every((t) => t.priority === 4)).toBe(true);
    expect(router.canDropUnmatched).toBe(false);
  });

  const rules: RoutingRule[] = [
    { name: 'temps', condition: 'tag_name=temp*', connectors: ['influx'], priority: 1 },
    { name: 'alarms', condition: 'quality=ALARM', connectors: ['mqtt', 'kafka'], priority: 9 },
    { name: 'plc1', condition: 'device_id=PLC001', connectors: ['influx', 'mqtt'], priority: 3 },
  ];

  it('fans out to every matching rule, one target per connector at the highest priority', () => {
    const router = createRouter({ rules, connectors, defaultConnector: 'pg' });
    expect(sorted(router.route(point({ quality: 'ALARM' })))).toEqual([
      { connector: 'influx', priority: 3 },
      { connector: 'kafka', priority: 9 },
      { connector: 'mqtt', priority: 9 },
    ]);
    expect(sorted(router.route(point({ deviceId: 'PLC002' })))).toEqual([{ connector: 'influx', priority: 1 }]);
  });

  it('keeps the highest priority whatever the rule order', () => {
    const router = createRouter({ rules: [...rules].reverse(), connectors });
    expect(sorted(router.route(point({ quality: 'ALARM' })))).toEqual([
      { connector: 'influx', priority: 3 },
      { connector: 'kafka', priority: 9 },
      { connector: 'mqtt', priority: 9 },
    ]);
  });

  it('uses the point priority as the floor', () => {
    const router = createRouter({ rules, connectors });
    expect(router.route(point({ deviceId: 'X', priority: 5 }))).toEqual([{ connector: 'influx', priority: 5 }]);
    expect(router.route(point({ deviceId: 'X', priority: 0 }))).toEqual([{ connector: 'influx', priority: 1 }]);
  });

  it('sends unmatched points to the default connector(s), or nowhere without one', () => {
    const withDefault = createRouter({ rules, connectors, defaultConnector: 'pg' });
    expect(withDefault.route(point({ deviceId: 'X', tagName: 'pressure', priority: 2 }))).toEqual([
      { connector: 'pg', priority: 2 },
    ]);
    expect(withDefault.canDropUnmatched).toBe(false);
    const two = createRouter({ rules, connectors, defaultConnector: ['pg', 'kafka', 'pg'] });
    expect(two.route(point({ deviceId: 'X', tagName: 'pressure' })).map((t) => t.connector)).toEqual(['pg', 'kafka']);
    const none = createRouter({ rules, connectors });
    expect(none.route(point({ deviceId: 'X', tagName: 'pressure' }))).toEqual([]);
    expect(none.canDropUnmatched).toBe(true);
  });

  it('clamps rule priorities to 0..9', () => {
    const router = createRouter({
      connectors,
      rules: [
        { name: 'hi', condition: 'tag_name=a', connectors: ['mqtt'], priority: 42 },
        { name: 'lo', condition: 'tag_name=b', connectors: ['mqtt'], priority: -3 },
      ],
    });
    expect(router.route(point({ tagName: 'a' }))).toEqual([{ connector: 'mqtt', priority: 9 }]);
    expect(router.route(point({ tagName: 'b' }))).toEqual([{ connector: 'mqtt', priority: 0 }]);
  });

  it('does not leak state between calls', () => {
    const router = createRouter({ rules, connectors, defaultConnector: 'pg' });
    for (let i = 0; i < 3; i++) {
      expect(sorted(router.route(point({ quality: 'ALARM' }))).map((t) => t.priority)).toEqual([3, 9, 9]);
      expect(router.route(point({ deviceId: 'Z', tagName: 'x' }))).toEqual([{ connector: 'pg', priority: 0 }]);
      expect(router.route(point({ deviceId: 'PLC001', tagName: 'x' }))).toHaveLength(2);
    }
  });

  it('names the rule and the position for a bad condition', () => {
    const build = () =>
      createRouter({
        connectors,
        rules: [...rules.slice(0, 1), { name: 'broken', condition: 'quality=ALARM and', connectors: ['mqtt'] }],
      });
    expect(build).toThrow(RoutingConfigError);
    expect(build).toThrow(ConfigError);
    try {
      build();
    } catch (e) {
      const err = e as RoutingConfigError;
      expect(err.rule).toBe('broken');
      expect(err.position).toBe(18);
      expect(err.code).toBe('BIFROST_ERR_ROUTING_CONDITION');
      expect(err.message).toMatch(/routing rule "broken": invalid condition: expected a field .* at position 18/);
    }
  });

  it('rejects unknown connectors in rules and in the default', () => {
    expect(() =>
      createRouter({ connectors, rules: [{ name: 'r1', condition: 'quality=BAD', connectors: ['mqtt', 'azure'] }] }),
    ).toThrow(/routing rule "r1": unknown connector "azure" \(configured: mqtt, influx, kafka, pg\)/);
    expect(() => createRouter({ connectors, defaultConnector: 'nope' })).toThrow(
      /default connector: unknown connector "nope"/,
    );
    expect(() =>
      createRouter({ connectors, rules: [{ name: 'r2', condition: 'quality=BAD', connectors: [] }] }),
    ).toThrow(/routing rule "r2": no connectors listed/);
  });

  it('routes 200k points in well under a second', () => {
    const router = createRouter({ rules, connectors, defaultConnector: 'pg' });
    const pts = Array.from({ length: 1000 }, (_, i) =>
      point({
        deviceId: `PLC00${i % 3}`,
        tagName: i % 2 ? 'temperature' : 'pressure',
        quality: i % 50 ? 'GOOD' : 'ALARM',
      }),
    );
    let n = 0;
    const t0 = performance.now();
    for (let r = 0; r < 200; r++) for (const p of pts) n += router.route(p).length;
    const ms = performance.now() - t0;
    expect(n).toBeGreaterThan(200_000);
    expect(ms).toBeLessThan(1000);
  });
});
