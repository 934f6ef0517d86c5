import { describe, expect, it } from 'vitest';
import { pointsFromLines } from '../src/ingest/line-points.js';
import { parseLineProtocol } from '../src/ingest/line-protocol.js';

describe('parseLineProtocol', () => {
  it('reads measurement, tags, typed fields and timestamp', () => {
    const { lines, errors } = parseLineProtocol(
      'cpu,host=a,region=eu usage=0.5,count=3i,big=18u,ok=t,off=FALSE,name="x y",neg=-1.5e3 1700000000000000000\n',
    );
    expect(errors).toEqual([]);
    expect(lines).toEqual([
      {
        line: 1,
        measurement: 'cpu',
        tags: { host: 'a', region: 'eu' },
        fields: new Map<string, unknown>([
          ['usage', 0.5],
          ['count', 3],
          ['big', 18],
          ['ok', true],
          ['off', false],
          ['name', 'x y'],
          ['neg', -1500],
        ]),
        timestamp: '1700000000000000000',
      },
    ]);
  });

  it('applies the escaping rules of each part', () => {
    const { lines, errors } = parseLineProtocol(
      String.raw`my\ meas\,x,tag\ k\=1=v\,a\ l\=ue f\,k\=e\ y="q\"uo\\te\n" 5` + '\n' + String.raw`m\y f=1`,
    );
    expect(errors).toEqual([]);
    expect(lines[0]).toMatchObject({
      measurement: 'my meas,x',
      tags: { 'tag k=1': 'v,a l=ue' },
      fields: new Map([['f,k=e y', String.raw`q"uo\te\n`]]),
      timestamp: '5',
    });
    expect(lines[1]).toMatchObject({ measurement: String.raw`m\y`, tags: undefined, timestamp: undefined });
  });

  it('skips blank lines and comments, keeps line numbers, takes CRLF and strings across lines', () => {
    const { lines, errors } = parseLineProtocol('# comment\n\n  \r\na f=1\r\nb s="two\nlines" 7\nc f=2');
    expect(errors).toEqual([]);
    expect(lines.map((l) => [l.line, l.measurement])).toEqual([
      [4, 'a'],
      [5, 'b'],
      [7, 'c'],
    ]);
    expect(lines[1]?.fields.get('s')).toBe('two\nlines');
  });

  it('names the line and the reason of every bad line and keeps the good ones', () => {
    const body = [
      'ok f=1',
      'nofields',
      'm,t f=1',
      'm,t= f=1',
      'm f=',
      'm f=1x',
      'm f=1.5i',
      'm f=-3u',
      'm f=9007199254740993i',
      'm f="open',
      'm f=1 12ab',
      'm f=1 5 6',
      'm f=NaN',
      ' m f=1',
      'ok2 f=2',
    ].join('\n');
    const { lines, errors } = parseLineProtocol(body);
    expect(lines.map((l) => l.measurement)).toEqual(['ok', 'ok2']);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(errors[0]?.message).toMatch(/expected a space and fields/);
    expect(errors[1]?.message).toMatch(/"=" after tag key "t"/);
    expect(errors[2]?.message).toMatch(/missing value of tag "t"/);
    expect(errors[3]?.message).toMatch(/field "f" has no value/);
    expect(errors[4]?.message).toMatch(/invalid value "1x"/);
    expect(errors[5]?.message).toMatch(/invalid integer "1.5i"/);
    expect(errors[6]?.message).toMatch(/invalid unsigned "-3u"/);
    expect(errors[7]?.message).toMatch(/beyond ±2\^53-1/);
    expect(errors[8]?.message).toMatch(/no closing quote/);
    expect(errors[9]?.message).toMatch(/invalid timestamp "12ab"/);
    expect(errors[10]?.message).toMatch(/unexpected "6"/);
    expect(errors[11]?.message).toMatch(/invalid value "NaN"/);
    expect(errors[12]?.message).toMatch(/starts with whitespace/);
  });
});

describe('pointsFromLines', () => {
  const parse = (body: string) => parseLineProtocol(body).lines;

  it('makes one point per field: measurement as device, field key as tagName, tags kept', () => {
    const { points, errors } = pointsFromLines(parse('cpu,host=a u=1,s="x" 1700000000123456789'), 'ns', 0, {});
    expect(errors).toEqual([]);
    expect(points).toEqual([
      expect.objectContaining({
        deviceId: 'cpu',
        tagName: 'u',
        value: 1,
        quality: 'GOOD',
        timestamp: 1_700_000_000_123,
        tags: { host: 'a' },
      }),
      expect.objectContaining({ deviceId: 'cpu', tagName: 's', value: 'x', timestamp: 1_700_000_000_123 }),
    ]);
    expect(points[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(points[0]?.id).not.toBe(points[1]?.id);
  });

  it('takes the device from a configured tag and keeps the measurement as _measurement', () => {
    const { points } = pointsFromLines(parse('cpu,host=plc7 u=1\nmem u=2'), 'ns', 42, { deviceTag: 'host' });
    expect(points[0]).toMatchObject({
      deviceId: 'plc7',
      tagName: 'u',
      tags: { host: 'plc7', _measurement: 'cpu' },
      timestamp: 42,
    });
    expect(points[1]).toMatchObject({ deviceId: 'mem', timestamp: 42 });
    expect(points[1]?.tags).toBeUndefined();
  });

  it('converts every precision to epoch milliseconds', () => {
    const at = (ts: string, p: Parameters<typeof pointsFromLines>[1]) =>
      pointsFromLines(parse(`m f=1 ${ts}`), p, 0, {}).points[0]?.timestamp;
    expect(at('1700000000123999999', 'ns')).toBe(1_700_000_000_123);
    expect(at('1700000000123999', 'us')).toBe(1_700_000_000_123);
    expect(at('1700000000123', 'ms')).toBe(1_700_000_000_123);
    expect(at('1700000000', 's')).toBe(1_700_000_000_000);
    expect(at('2', 'm')).toBe(120_000);
    expect(at('2', 'h')).toBe(7_200_000);
    expect(at('999', 'ns')).toBe(0);
  });

  it('refuses a whole line whose points no sink could carry, naming it', () => {
    const { points, errors } = pointsFromLines(
      parse(['ok f=1', 'bad\\ \u0001 f=1', 'm b\u0002=1', 'm f=1 -5', 'm f=1 300000000000000', 'm f=1'].join('\n')),
      's',
      0,
      {},
    );
    expect(points.map((p) => p.deviceId)).toEqual(['ok', 'm']);
    expect(errors).toEqual([
      { line: 2, message: expect.stringContaining('measurement (the deviceId) contains U+0001') as string },
      { line: 3, message: expect.stringContaining('field key "b\u0002" (a tagName) contains U+0002') as string },
      { line: 4, message: expect.stringContaining('before 1970') as string },
      { line: 5, message: expect.stringContaining('later than 9999-12-31') as string },
    ]);
  });
});
