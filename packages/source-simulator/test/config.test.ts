import { describe, expect, it } from 'vitest';
import { buildStreams, expandN } from '../src/devices.js';
import { simulatorConfigSchema, type SimulatorConfigInput } from '../src/schema.js';

const parse = (input: SimulatorConfigInput) => simulatorConfigSchema.parse(input);
const issues = (input: unknown) => {
  const res = simulatorConfigSchema.safeParse(input);
  if (res.success) throw new Error('config was accepted');
  return res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('config', () => {
  it('defaults to three demo devices with five tags at 1 point/s each', () => {
    const streams = buildStreams(parse({}), 1);
    expect(streams).toHaveLength(15);
    expect([...new Set(streams.map((s) => s.deviceId))]).toEqual(['sim-001', 'sim-002', 'sim-003']);
    expect(streams.map((s) => s.tagName).slice(0, 5)).toEqual([
      'temperature',
      'pressure',
      'motor_running',
      'parts_produced',
      'overheat_alarm',
    ]);
    expect(streams.every((s) => s.intervalMs === 1000)).toBe(true);
    expect(streams[0]?.tags).toEqual({ site: 'demo' });
  });

  it('expands count with {n}, {n:width} and an appended -{n}, labels included', () => {
    expect(expandN('pump-{n:3}', 7)).toBe('pump-007');
    expect(expandN('line{n}-{n}', 12)).toBe('line12-12');
    const streams = buildStreams(
      parse({
        devices: [
          { id: 'pump-{n:2}', count: 3, labels: { line: 'L{n}' }, tags: [{ name: 'flow', generator: 'sine' }] },
          { id: 'press', count: 2, tags: [{ name: 'force', generator: 'counter' }] },
          { id: 'PLC001', tags: [{ name: 'temp', generator: 'sine' }] },
        ],
      }),
      1,
    );
    expect(streams.map((s) => s.deviceId)).toEqual(['pump-01', 'pump-02', 'pump-03', 'press-1', 'press-2', 'PLC001']);
    expect(streams.map((s) => s.tags?.line)).toEqual(['L1', 'L2', 'L3', undefined, undefined, undefined]);
  });

  it('devices: N copies the template', () => {
    const streams = buildStreams(
      parse({
        devices: 250,
        template: {
          id: 'dev{n}',
          tags: [
            { name: 'a', generator: 'toggle' },
            { name: 'b', generator: 'step' },
          ],
        },
      }),
      1,
    );
    expect(streams).toHaveLength(500);
    expect(new Set(streams.map((s) => s.deviceId)).size).toBe(250);
  });

  it('rejects duplicate device ids', () => {
    expect(() =>
      buildStreams(
        parse({
          devices: [
            { id: 'a', tags: [{ name: 't', generator: 'sine' }] },
            { id: 'a', tags: [{ name: 't', generator: 'sine' }] },
          ],
        }),
        1,
      ),
    ).toThrow(/devices\[1\]: duplicate device id "a"/);
  });

  it('takes rate and interval from the tag, else the source; rate wins over interval', () => {
    const streams = buildStreams(
      parse({
        interval: '2s',
        devices: [
          {
            id: 'd',
            tags: [
              { name: 'default', generator: 'sine' },
              { name: 'interval', generator: 'sine', interval: '250ms' },
              { name: 'rate', generator: 'sine', rate: 50, interval: '1s' },
            ],
          },
        ],
      }),
      1,
    );
    expect(streams.map((s) => s.intervalMs)).toEqual([2000, 250, 20]);
    const fast = buildStreams(
      parse({
        rate: 100,
        devices: [
          {
            id: 'd',
            tags: [
              { name: 'x', generator: 'counter' },
              { name: 'y', generator: 'counter', interval: '1s' },
            ],
          },
        ],
      }),
      1,
    );
    expect(fast.map((s) => s.intervalMs)).toEqual([10, 1000]);
  });

  it('takes quality flips from the tag, else the device, else the source; jitter is capped at the interval', () => {
    const streams = buildStreams(
      parse({
        quality: { bad: 0.1 },
        jitter: '5s',
        devices: [
          {
            id: 'd1',
            quality: { uncertain: 0.3 },
            tags: [
              { name: 'a', generator: 'sine' },
              { name: 'b', generator: 'sine', quality: { bad: 0.5, uncertain: 0.5 } },
            ],
          },
          { id: 'd2', tags: [{ name: 'c', generator: 'sine', jitter: '100ms' }] },
        ],
      }),
      1,
    );
    expect(streams.map((s) => [s.bad, s.uncertain])).toEqual([
      [0, 0.3],
      [0.5, 0.5],
      [0.1, 0],
    ]);
    expect(streams.map((s) => s.jitterMs)).toEqual([1000, 1000, 100]);
  });

  it('names the field at fault', () => {
    expect(issues({ devices: [{ id: 'd', tags: [{ name: 't', generator: 'square' }] }] })[0]).toMatch(
      /^devices: \[0\].tags\[0\].generator: Invalid discriminator value/,
    );
    expect(issues({ devices: [{ id: 'd', tags: [{ name: 't', generator: 'sine', period: 'soon' }] }] })[0]).toMatch(
      /^devices.0.tags.0.period: invalid duration "soon"/,
    );
    expect(issues({ quality: { bad: 1.5 } })[0]).toMatch(/^quality.bad: Too big: expected number to be <=1/);
    expect(issues({ quality: { bad: 0.6, uncertain: 0.6 } })[0]).toMatch(
      /^quality: bad \+ uncertain must not exceed 1/,
    );
    expect(issues({ rate: -1 })[0]).toMatch(/^rate: Too small: expected number to be >0/);
    expect(issues({ devices: [{ id: 'd', tags: [{ name: 't', generator: 'sine', amplitude: 3 }] }] })[0]).toMatch(
      /^devices.0.tags.0: Unrecognized key.*amplitude/,
    );
    expect(issues({ devices: [{ id: 'd', tags: [] }] })[0]).toMatch(
      /^devices.0.tags: Too small: expected array to have >=1 items/,
    );
    expect(issues({ devices: 'many' })[0]).toBe('devices: must be a number of devices or a list of devices');
    expect(issues({ devices: 0 })[0]).toMatch(/^devices: Too small: expected number to be >0/);
  });

  it('describes every field', () => {
    const undocumented: string[] = [];
    const visit = (schema: unknown, path: string): void => {
      const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
      const shape = def.type === 'object' ? (def.shape as Record<string, unknown>) : undefined;
      if (shape) {
        for (const [key, field] of Object.entries(shape)) {
          if (!(field as { description?: string }).description) undocumented.push(`${path}${key}`);
          visit(field, `${path}${key}.`);
        }
      }
      for (const inner of ['innerType', 'in', 'element'])
        if (def[inner] && typeof def[inner] === 'object') visit(def[inner], path);
      if (Array.isArray(def.options)) for (const o of def.options) visit(o, path);
    };
    visit(simulatorConfigSchema, '');
    expect(undocumented).toEqual([]);
  });
});
