import { describe, expect, it } from 'vitest';
import { escape } from '@influxdata/influxdb-client';
import type { DataPoint } from '@bifrost/core';
import { influxConfigSchema, formatTimestamp, toLine, UnwritablePointError } from '../src/index.js';

const opts = influxConfigSchema.parse({ endpoint: 'http://127.0.0.1:8086', database: 'db' });
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: '0190a4c6-0000-7000-8000-000000000001',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 1_700_000_000_123,
  ...over,
});

describe('toLine', () => {
  it('writes measurement, tags sorted by key, a float value, the point id and a ns timestamp', () => {
    expect(toLine(point(), opts)).toBe(
      'industrial_data,device_id=PLC001,quality=GOOD,tag_name=temperature value=21.5,point_id="0190a4c6-0000-7000-8000-000000000001" 1700000000123000000',
    );
  });

  it('escapes commas and spaces in the measurement; commas, equals and spaces in tag keys, tag values and field keys', () => {
    const line = toLine(
      point({
        tagName: 'a b,c=d',
        value: { 'f k,=': 1 },
        tags: { 'z k=,': 'v a,l=x' },
      }),
      { ...opts, measurement: 'm e,a=s', include_id: false },
    );
    expect(line).toBe(
      String.raw`m\ e\,a=s,device_id=PLC001,quality=GOOD,tag_name=a\ b\,c\=d,z\ k\=\,=v\ a\,l\=x f\ k\,\==1 1700000000123000000`,
    );
  });

  it('escapes double quotes and backslashes in string values', () => {
    const line = toLine(point({ value: 'say "hi" \\ now' }), { ...opts, include_id: false });
    expect(line).toContain(String.raw`value_str="say \"hi\" \\ now"`);
  });

  it('types fields: string, boolean, integer tags, floats', () => {
    expect(toLine(point({ value: true }), opts)).toContain(' value_bool=T,');
    expect(toLine(point({ value: 'RUN' }), { ...opts, field_naming: 'single' })).toContain(' value="RUN",');
    expect(toLine(point({ value: 42 }), { ...opts, integer_tags: ['temperature'] })).toContain(' value=42i,');
    expect(toLine(point({ value: 42 }), opts)).toContain(' value=42,');
  });

  it('flattens object values into one field per leaf, skipping nulls', () => {
    const line = toLine(point({ value: { x: 1, pos: { lat: 2.5, ok: false }, label: 'a', gone: null } }), {
      ...opts,
      include_id: false,
    });
    expect(line).toContain(' x=1,pos_lat=2.5,pos_ok=F,label="a" ');
  });

  it('takes the measurement from tag_name, device_id or a point tag (which is then not a tag)', () => {
    expect(toLine(point(), { ...opts, measurement_from: 'tag_name' })).toMatch(/^temperature,/);
    expect(toLine(point(), { ...opts, measurement_from: 'device_id' })).toMatch(/^PLC001,/);
    const fromTag = toLine(point({ tags: { measurement: 'boiler', line: '3' } }), {
      ...opts,
      measurement_from: 'point_tag',
    });
    expect(fromTag).toMatch(/^boiler,device_id=PLC001,line=3,/);
    expect(toLine(point(), { ...opts, measurement_from: 'point_tag' })).toMatch(/^industrial_data,/);
  });

  it('lets core tags win over point tags of the same name and adds unit', () => {
    const line = toLine(point({ unit: '°C', tags: { device_id: 'spoof', site: 'north' } }), opts);
    expect(line).toMatch(/^industrial_data,device_id=PLC001,quality=GOOD,site=north,tag_name=temperature,unit=°C /);
  });

  it('merges point tags before, between and after the core tags in key order', () => {
    const line = toLine(
      point({ unit: 'C', tags: { zone: '9', area: 'a', line: '3', tank: 't', ['Upper']: 'u', quality: 'spoof' } }),
      { ...opts, include_id: false },
    );
    expect(line).toBe(
      'industrial_data,Upper=u,area=a,device_id=PLC001,line=3,quality=GOOD,tag_name=temperature,tank=t,unit=C,zone=9 value=21.5 1700000000123000000',
    );
  });

  it('leaves out empty tags and escapes newlines in tags', () => {
    expect(toLine(point({ tags: { empty: '', multi: 'a\nb' } }), { ...opts, include_id: false })).toBe(
      'industrial_data,device_id=PLC001,multi=a\\nb,quality=GOOD,tag_name=temperature value=21.5 1700000000123000000',
    );
  });

  it('escapes exactly as the official client for any mix of special characters', () => {
    const alphabet = 'ab ,=\n\r\t"\\#é';
    for (let n = 0; n < 500; n++) {
      const s = Array.from(
        { length: 1 + (n % 12) },
        (_, i) => alphabet[(n * 7 + i * 13 + n * i) % alphabet.length],
      ).join('');
      const name = `m${s}`;
      const line = toLine(point({ deviceId: s, value: { [`k${s}`]: s } }), {
        ...opts,
        measurement: name,
        include_id: false,
      });
      expect(line).toBe(
        `${escape.measurement(name)},device_id=${escape.tag(s)},quality=GOOD,tag_name=temperature ${escape.tag(`k${s}`)}=${escape.quoted(s)} 1700000000123000000`,
      );
    }
  });

  it('gives a redelivered point exactly the same line (series + timestamp dedupe)', () => {
    expect(toLine(point(), opts)).toBe(toLine(structuredClone(point()), opts));
  });

  it('rejects unwritable points naming the point and the field', () => {
    expect(() => toLine(point({ value: Number.NaN }), opts)).toThrow(UnwritablePointError);
    expect(() => toLine(point({ value: 1.5 }), { ...opts, integer_tags: ['temperature'] })).toThrow(
      /field "value" must be an integer/,
    );
    expect(() => toLine(point({ value: {} }), opts)).toThrow(/point 0190a4c6.*no fields/);
    expect(() => toLine(point({ timestamp: -5 }), opts)).toThrow(/timestamp/);
    expect(() => toLine(point({ value: { a_b: 1, a: { b: 2 } } }), opts)).toThrow(/"a_b" appears twice/);
    expect(() => toLine(point({ value: { point_id: 'x' } }), opts)).toThrow(/collides with the point id/);
    expect(() => toLine(point({ value: { '': 1 } }), opts)).toThrow(/empty key/);
    // InfluxDB answers 204 to a line starting with '#' and stores nothing: that would be silent loss.
    expect(() => toLine(point({ tagName: '#1 pump' }), { ...opts, measurement_from: 'tag_name' })).toThrow(
      /starts with '#'/,
    );
  });
});

describe('formatTimestamp', () => {
  it('converts epoch ms exactly for every precision', () => {
    const ms = 1_700_000_000_123;
    expect(formatTimestamp(ms, 'ns')).toBe('1700000000123000000');
    expect(formatTimestamp(ms, 'us')).toBe('1700000000123000');
    expect(formatTimestamp(ms, 'ms')).toBe('1700000000123');
    expect(formatTimestamp(ms, 's')).toBe('1700000000');
  });
});
