import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  FORMATTERS_SOURCE,
  formatBytes,
  formatCount,
  formatMs,
  formatRate,
  formatSeconds,
} from '../src/http/format.js';

describe('status page number formatting', () => {
  it('counts get thousands separators', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(undefined)).toBe('–');
  });

  it('milliseconds keep at most one decimal', () => {
    expect(formatMs(0.04)).toBe('0 ms');
    expect(formatMs(0.35)).toBe('0.4 ms');
    expect(formatMs(12.345)).toBe('12.3 ms');
    expect(formatMs(1234.56)).toBe('1,235 ms');
    expect(formatMs(undefined)).toBe('–');
  });

  it('rates are per second, one decimal below 100', () => {
    expect(formatRate(0)).toBe('0 points/s');
    expect(formatRate(14.96)).toBe('15 points/s');
    expect(formatRate(2.25)).toBe('2.3 points/s');
    expect(formatRate(15234.4)).toBe('15,234 points/s');
    expect(formatRate(3, '/s')).toBe('3 /s');
    expect(formatRate(Number.NaN)).toBe('–');
  });

  it('bytes use decimal kB / MB / GB', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1_500)).toBe('1.5 kB');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(formatBytes(1_020_000_000)).toBe('1.02 GB');
    expect(formatBytes(undefined)).toBe('–');
  });

  it('durations read as seconds, minutes or hours', () => {
    expect(formatSeconds(0)).toBe('0 s');
    expect(formatSeconds(4.24)).toBe('4.2 s');
    expect(formatSeconds(3)).toBe('3 s');
    expect(formatSeconds(42.4)).toBe('42 s');
    expect(formatSeconds(303)).toBe('5 min 3 s');
    expect(formatSeconds(7500)).toBe('2 h 5 min');
  });

  it('the source the page embeds defines the same functions on their own', () => {
    const page = runInNewContext(
      `${FORMATTERS_SOURCE}; ({ formatCount, formatMs, formatRate, formatBytes, formatSeconds })`,
    ) as {
      formatCount: typeof formatCount;
      formatMs: typeof formatMs;
      formatRate: typeof formatRate;
      formatBytes: typeof formatBytes;
      formatSeconds: typeof formatSeconds;
    };
    expect(page.formatCount(1234567)).toBe('1,234,567');
    expect(page.formatMs(12.345)).toBe('12.3 ms');
    expect(page.formatRate(2.25)).toBe('2.3 points/s');
    expect(page.formatBytes(1_500)).toBe('1.5 kB');
    expect(page.formatSeconds(303)).toBe('5 min 3 s');
  });
});
