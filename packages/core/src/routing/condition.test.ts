import { describe, expect, it } from 'vitest';
import type { DataPoint } from '../data-point.js';
import { compileCondition, ConditionSyntaxError } from './condition.js';
import { compileGlob } from './glob.js';

const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: '1',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 0,
  unit: '°C',
  tags: { line: 'A', site: 'north' },
  ...over,
});

describe('compileGlob', () => {
  it.each([
    ['temp*', 'temperature', true],
    ['temp*', 'temp', true],
    ['temp*', 'xtemp', false],
    ['*ure', 'temperature', true],
    ['*ure', 'pressure1', false],
    ['t?mp', 'temp', true],
    ['t?mp', 'tmp', false],
    ['?', 'a', true],
    ['?', '', false],
    ['*', '', true],
    ['PLC*-A?', 'PLC12-A7', true],
    ['PLC*-A?', 'PLC12-B7', false],
    ['a.b', 'axb', false],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['exact', 'exact', true],
    ['exact', 'Exact', false],
  ] as const)('%j vs %j -> %s', (pattern, s, expected) => {
    expect(compileGlob(pattern)(s)).toBe(expected);
  });
});

describe('compileCondition', () => {
  it.each([
    ['tag_name=temperature', {}, true],
    ['tag_name=pressure', {}, false],
    ['tag_name==temperature', {}, true],
    ['quality=ALARM', { quality: 'ALARM' }, true],
    ['quality=ALARM', {}, false],
    ['device_id=PLC001', {}, true],
    ['device_id!=PLC001', {}, false],
    ['device_id != PLC002', {}, true],
    ['tag_name=temp*', {}, true],
    ['tag_name=t?mperature', {}, true],
    ['unit="°C"', {}, true],
    ['unit!=bar', { unit: undefined }, true],
    ['unit=*', { unit: undefined }, false],
    ['tags.line=A', {}, true],
    ['tags.line=B', {}, false],
    ['tags.missing!=x', {}, true],
    ['tags.missing=x', {}, false],
    ['deviceId=PLC001 AND tagName=temperature', {}, true],
    ["tag_name='temp erature'", { tagName: 'temp erature' }, true],
    ['tag_name="or"', { tagName: 'or' }, true],
    ['tag_name=or', { tagName: 'or' }, true],
    ['not quality=GOOD', {}, false],
    ['value=21.5', {}, true],
    ['value=true', { value: true }, true],
    ['value=RUN*', { value: 'RUNNING' }, true],
    ['value=*', { value: { a: 1 } }, false],
    ['NOT (quality=GOOD or quality=UNCERTAIN)', { quality: 'BAD' }, true],
  ] as const)('%s', (cond, over, expected) => {
    expect(compileCondition(cond)(point(over as Partial<DataPoint>))).toBe(expected);
  });

  it('and binds tighter than or', () => {
    // a or b and c  ==  a or (b and c)
    const pred = compileCondition('quality=ALARM or tag_name=pressure and device_id=PLC001');
    expect(pred(point({ quality: 'ALARM', tagName: 'x', deviceId: 'y' }))).toBe(true);
    expect(pred(point({ tagName: 'pressure', deviceId: 'PLC002' }))).toBe(false);
    expect(pred(point({ tagName: 'pressure' }))).toBe(true);
    const grouped = compileCondition('(quality=ALARM or tag_name=pressure) and device_id=PLC001');
    expect(grouped(point({ quality: 'ALARM', deviceId: 'y' }))).toBe(false);
    expect(grouped(point({ quality: 'ALARM' }))).toBe(true);
  });

  it('chains of three or more terms', () => {
    const any = compileCondition('device_id=A or device_id=B or device_id=C');
    expect(['A', 'B', 'C', 'D'].map((d) => any(point({ deviceId: d })))).toEqual([true, true, true, false]);
    const all = compileCondition('tags.line=A and tags.site=north and quality=GOOD');
    expect(all(point())).toBe(true);
    expect(all(point({ quality: 'BAD' }))).toBe(false);
  });

  const syntax = (cond: string): ConditionSyntaxError => {
    try {
      compileCondition(cond);
    } catch (e) {
      expect(e).toBeInstanceOf(ConditionSyntaxError);
      return e as ConditionSyntaxError;
    }
    throw new Error(`"${cond}" parsed`);
  };

  it.each([
    ['', 1, /empty/],
    ['quality=ALARM and', 18, /expected a field.*end of condition/],
    ['quality ALARM', 9, /expected "=" or "!=" after "quality"/],
    ['quality=', 9, /expected a value/],
    ['colour=red', 1, /unknown field "colour" \(known: device_id, tag_name, quality, unit, value, tags.<key>\)/],
    ['tags.=x', 1, /unknown field "tags."/],
    ['(quality=ALARM', 15, /expected "\)" to close "\(" at position 1/],
    ['quality=ALARM)', 14, /unmatched "\)"/],
    ['quality=ALARM tag_name=x', 15, /expected "and", "or" or end/],
    ['value>10', 6, /operator ">" is not supported/],
    ['quality!ALARM', 8, /"!" must be followed by "="/],
    ['tag_name="temp', 10, /unterminated quoted value/],
    ['()', 2, /empty parentheses/],
    ['quality=ALARM or or tag_name=x', 18, /expected a field.*"or"/],
  ] as const)('%j fails at position %d', (cond, position, reason) => {
    const e = syntax(cond);
    expect(e.position).toBe(position);
    expect(e.message).toMatch(reason);
    expect(e.message).toContain(`at position ${position} in "${cond}"`);
    expect(e.code).toBe('BIFROST_ERR_ROUTING_CONDITION');
  });
});
