import type { PointValue } from '@bifrost/core';
import { symmetric, type Random } from './random.js';
import type { TagConfig } from './schema.js';

/** One generated value; `quality` is set only when the generator decides it (alarm bursts). */
export interface Sample {
  value: PointValue;
  quality?: string;
}

/** Produces the value of a tag at time `t` (epoch ms); called with increasing `t`. */
export type ValueGenerator = (t: number) => Sample;

const roundTo = (decimals: number) => {
  const f = 10 ** decimals;
  return (v: number) => Math.round(v * f) / f;
};

/**
 * Builds the value generator of one tag of one device. `random` is that tag's own random stream,
 * so devices made from one template still differ (random phase, walk, bursts).
 */
export function createGenerator(tag: TagConfig, random: Random): ValueGenerator {
  switch (tag.generator) {
    case 'sine': {
      const mid = (tag.min + tag.max) / 2;
      const amplitude = (tag.max - tag.min) / 2;
      const phase = tag.phase ?? random();
      const round = roundTo(tag.decimals);
      const omega = (2 * Math.PI) / Math.max(1, tag.period);
      return (t) => ({
        value: round(mid + amplitude * Math.sin(omega * t + 2 * Math.PI * phase) + tag.noise * symmetric(random)),
      });
    }
    case 'random_walk': {
      const lo = Math.min(tag.min, tag.max);
      const hi = Math.max(tag.min, tag.max);
      const round = roundTo(tag.decimals);
      let value = Math.min(hi, Math.max(lo, tag.start ?? (lo + hi) / 2));
      let first = true;
      return () => {
        if (!first) {
          value += tag.step * symmetric(random);
          // Reflect at the bounds rather than clamp, so the walk does not stick to a bound.
          if (value > hi) value = Math.max(lo, 2 * hi - value);
          if (value < lo) value = Math.min(hi, 2 * lo - value);
        }
        first = false;
        return { value: round(value) };
      };
    }
    case 'step': {
      const hold = Math.max(1, tag.hold);
      const { values } = tag;
      const [level0] = values;
      if (level0 === undefined) throw new Error('step generator: values is empty (the schema requires one level)');
      return (t) => ({ value: values[Math.floor(t / hold) % values.length] ?? level0 });
    }
    case 'counter': {
      let value = tag.start;
      let first = true;
      return () => {
        if (!first) {
          value += tag.increment;
          if (tag.max !== undefined && (tag.increment >= 0 ? value > tag.max : value < tag.max)) value = tag.start;
        }
        first = false;
        return { value };
      };
    }
    case 'toggle': {
      const period = Math.max(1, tag.period);
      return (t) => ({ value: Math.floor(t / period) % 2 === 0 ? tag.initial : !tag.initial });
    }
    case 'alarm_burst': {
      const mean = Math.max(1, tag.every);
      // Exponential gaps between burst starts (a Poisson process): bursts come at random, on average every `every`.
      const gap = () => -Math.log(1 - random()) * mean;
      let burstStart = Number.NaN;
      return (t) => {
        if (Number.isNaN(burstStart)) burstStart = t + gap();
        while (t >= burstStart + tag.duration) burstStart += tag.duration + gap();
        return t >= burstStart ? { value: tag.alarm, quality: 'ALARM' } : { value: tag.normal };
      };
    }
  }
}
