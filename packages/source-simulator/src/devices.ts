import { createGenerator, type ValueGenerator } from './generators.js';
import { seededRandom, type Random } from './random.js';
import type { DeviceConfig, QualityConfig, SimulatorConfig, TagConfig } from './schema.js';
import { DEFAULT_TEMPLATE, deviceSchema } from './schema.js';

/** One tag of one device, ready to be sampled: what the scheduler iterates over. */
export interface TagStream {
  deviceId: string;
  tagName: string;
  unit?: string;
  /** The device's labels; one object shared by every point of the device. */
  tags?: Record<string, string>;
  priority?: number;
  intervalMs: number;
  jitterMs: number;
  bad: number;
  uncertain: number;
  random: Random;
  generate: ValueGenerator;
}

const N_RE = /\{n(?::(\d+))?\}/g;
const HAS_N = /\{n(?::\d+)?\}/;

/** Replaces `{n}` / `{n:3}` in a device id or label with the device number. */
export function expandN(template: string, n: number): string {
  return template.replace(N_RE, (_, width?: string) => (width ? String(n).padStart(Number(width), '0') : String(n)));
}

/** The device entries of a config: `devices: N` becomes N copies of the template. */
export function deviceEntries(config: SimulatorConfig): DeviceConfig[] {
  if (typeof config.devices !== 'number') return config.devices;
  const template = config.template ?? deviceSchema.omit({ count: true }).parse(DEFAULT_TEMPLATE);
  return [{ ...template, count: config.devices }];
}

/**
 * Expands the config into one stream per tag per device. Each stream gets its own random
 * sequence derived from `seed`, so results are reproducible and copies of a template differ.
 * Throws naming the device when two devices end up with the same id.
 */
export function buildStreams(config: SimulatorConfig, seed: number): TagStream[] {
  const master = seededRandom(seed);
  const streams: TagStream[] = [];
  const seen = new Set<string>();
  for (const [entryIndex, device] of deviceEntries(config).entries()) {
    const idTemplate = device.count > 1 && !HAS_N.test(device.id) ? `${device.id}-{n}` : device.id;
    for (let n = 1; n <= device.count; n++) {
      const deviceId = expandN(idTemplate, n);
      if (seen.has(deviceId))
        throw new Error(`[bifrost] [simulator] devices[${entryIndex}]: duplicate device id "${deviceId}"`);
      seen.add(deviceId);
      const labels =
        device.labels && Object.fromEntries(Object.entries(device.labels).map(([k, v]) => [k, expandN(v, n)]));
      for (const tag of device.tags)
        streams.push(stream(config, device, tag, deviceId, labels, seededRandom(Math.floor(master() * 2 ** 32))));
    }
  }
  return streams;
}

function stream(
  config: SimulatorConfig,
  device: DeviceConfig,
  tag: TagConfig,
  deviceId: string,
  labels: Record<string, string> | undefined,
  random: Random,
): TagStream {
  const rate = tag.rate ?? (tag.interval === undefined ? config.rate : undefined);
  const intervalMs = rate !== undefined ? 1000 / rate : Math.max(tag.interval ?? config.interval, 0.01);
  const quality: QualityConfig = tag.quality ?? device.quality ?? config.quality;
  const s: TagStream = {
    deviceId,
    tagName: tag.name,
    intervalMs,
    // More jitter than the interval would make gaps negative.
    jitterMs: Math.min(tag.jitter ?? config.jitter, intervalMs),
    bad: quality.bad,
    uncertain: quality.uncertain,
    random,
    generate: createGenerator(tag, random),
  };
  if (tag.unit !== undefined) s.unit = tag.unit;
  if (labels) s.tags = labels;
  if (tag.priority !== undefined) s.priority = tag.priority;
  return s;
}
