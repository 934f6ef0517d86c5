import { durationSchema, z } from '@bifrost/core';

const probability = z.number().min(0).max(1);

/** Probabilities per sample of a non-GOOD quality; the rest is `GOOD`. */
export const qualitySchema = z
  .strictObject({
    bad: probability.default(0).describe('Probability (0..1) that a sample is marked `BAD`.'),
    uncertain: probability.default(0).describe('Probability (0..1) that a sample is marked `UNCERTAIN`.'),
  })
  .refine((q) => q.bad + q.uncertain <= 1, { message: 'bad + uncertain must not exceed 1' });

const scalar = z.union([z.number().finite(), z.string(), z.boolean()]);

/** Fields every tag has, whatever its generator. */
const tagCommon = z.object({
  name: z.string().min(1).max(256).describe('Tag name (`tagName` of the points), e.g. `temperature`.'),
  unit: z.string().max(64).optional().describe('Engineering unit, e.g. `°C`.'),
  rate: z
    .number()
    .positive()
    .max(100_000)
    .optional()
    .describe("Samples per second for this tag. Overrides `interval`; default: the source's `rate` / `interval`."),
  interval: durationSchema.optional().describe("Time between samples, e.g. `500ms`; default: the source's `interval`."),
  jitter: durationSchema
    .optional()
    .describe(
      "Each gap between samples varies randomly by up to ± this much (the average rate stays); default: the source's `jitter`.",
    ),
  quality: qualitySchema.optional().describe("Quality flips for this tag; default: the device's, else the source's."),
  priority: z
    .number()
    .int()
    .min(0)
    .max(9)
    .optional()
    .describe("Queue lane 0..9 of this tag's points (routing rules may raise it)."),
});

const decimals = z.number().int().min(0).max(12).default(3).describe('Digits after the decimal point.');

export const sineTagSchema = tagCommon
  .extend({
    generator: z.literal('sine').describe('A sine wave between `min` and `max`.'),
    min: z.number().finite().default(0).describe('Lowest value of the wave.'),
    max: z.number().finite().default(100).describe('Highest value of the wave.'),
    period: durationSchema.prefault('60s').describe('Length of one full wave.'),
    phase: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(
        'Start position in the wave as a fraction of the period (0..1); default random per device, so copies differ.',
      ),
    noise: z.number().nonnegative().default(0).describe('Uniform noise of up to ± this amount added to every sample.'),
    decimals,
  })
  .strict();

export const randomWalkTagSchema = tagCommon
  .extend({
    generator: z
      .literal('random_walk')
      .describe('Each sample moves by a random step from the previous one, kept within `min`..`max`.'),
    start: z.number().finite().optional().describe('First value; default the middle of `min`..`max`.'),
    step: z.number().positive().default(1).describe('Largest change between two samples.'),
    min: z.number().finite().default(0).describe('Lower bound.'),
    max: z.number().finite().default(100).describe('Upper bound.'),
    decimals,
  })
  .strict();

export const stepTagSchema = tagCommon
  .extend({
    generator: z.literal('step').describe('Holds each of `values` for `hold`, then moves to the next (cycling).'),
    values: z
      .array(scalar)
      .min(1)
      .default([0, 1])
      .describe('The levels, in order: numbers, strings (e.g. machine states) or booleans.'),
    hold: durationSchema.prefault('10s').describe('How long each level is held.'),
  })
  .strict();

export const counterTagSchema = tagCommon
  .extend({
    generator: z
      .literal('counter')
      .describe('A counter increasing by `increment` per sample (e.g. parts produced), wrapping after `max`.'),
    start: z.number().finite().default(0).describe('First value (and the value after a wrap).'),
    increment: z.number().finite().default(1).describe('Added per sample.'),
    max: z.number().finite().optional().describe('Wraps back to `start` after passing this value; unset = never.'),
  })
  .strict();

export const toggleTagSchema = tagCommon
  .extend({
    generator: z.literal('toggle').describe('A boolean (e.g. motor running) that flips every `period`.'),
    period: durationSchema.prefault('30s').describe('Time between flips.'),
    initial: z.boolean().default(false).describe('Value in the first period.'),
  })
  .strict();

export const alarmBurstTagSchema = tagCommon
  .extend({
    generator: z
      .literal('alarm_burst')
      .describe('Mostly `normal`; at random times a burst of `alarm` values with quality `ALARM`.'),
    every: durationSchema
      .prefault('5m')
      .describe('Average time between the starts of two bursts (random, exponentially distributed).'),
    duration: durationSchema.prefault('10s').describe('How long a burst lasts.'),
    normal: scalar.default(false).describe('Value outside bursts.'),
    alarm: scalar.default(true).describe('Value during a burst.'),
  })
  .strict();

/** One tag (signal) of a simulated device; `generator` picks the value shape and its settings. */
export const tagSchema = z.discriminatedUnion('generator', [
  sineTagSchema,
  randomWalkTagSchema,
  stepTagSchema,
  counterTagSchema,
  toggleTagSchema,
  alarmBurstTagSchema,
]);

/** A simulated device, or with `count` a family of similar ones. */
export const deviceSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(256)
    .describe(
      'Device id (`deviceId`). With `count`, `{n}` is replaced by 1..count (`{n:3}` pads to 3 digits: `001`); without `{n}`, `-{n}` is appended.',
    ),
  count: z.number().int().positive().max(1_000_000).default(1).describe('Number of devices made from this entry.'),
  labels: z
    .record(z.string(), z.string())
    .optional()
    .describe('Labels attached to every point as `tags` (`{n}` replaced as in `id`), e.g. `{ line: A }`.'),
  quality: qualitySchema.optional().describe("Quality flips for all tags of this device; default: the source's."),
  tags: z.array(tagSchema).min(1).describe('The signals of the device.'),
});

/** The demo device used when `devices` is a number and no `template` is given. */
export const DEFAULT_TEMPLATE: z.input<typeof deviceSchema> = {
  id: 'sim-{n:3}',
  labels: { site: 'demo' },
  tags: [
    { name: 'temperature', generator: 'sine', unit: '°C', min: 18, max: 28, period: '2m', noise: 0.2, decimals: 2 },
    { name: 'pressure', generator: 'random_walk', unit: 'bar', start: 1.2, step: 0.02, min: 0.8, max: 1.6 },
    { name: 'motor_running', generator: 'toggle', period: '30s', initial: true },
    { name: 'parts_produced', generator: 'counter', increment: 1 },
    { name: 'overheat_alarm', generator: 'alarm_burst', every: '2m', duration: '5s' },
  ],
};

/**
 * zod reports a failed union as a bare "Invalid input"; this points at the problem inside the
 * branch the user meant (a list: the first issue in it, with its path below `devices`).
 */
const devicesError: z.core.$ZodErrorMap = (issue) => {
  if (issue.code === 'invalid_union' && Array.isArray(issue.input)) {
    // Paths inside a union branch are relative to the union's input.
    const inner = issue.errors[1]?.[0];
    if (inner)
      return `${inner.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${inner.message}`.replace(
        /^\./,
        '',
      );
  }
  if (issue.code === 'invalid_union' && typeof issue.input !== 'number') {
    return 'must be a number of devices or a list of devices';
  }
  return undefined;
};

/** The simulator's config: `type: simulator` plus these fields. */
export const simulatorConfigSchema = z.strictObject({
  devices: z
    .union([z.number().int().positive().max(1_000_000), z.array(deviceSchema).min(1)], { error: devicesError })
    .default(3)
    .describe(
      'A list of devices, or a number N: N devices made from `template` (a demo device with five tags when unset).',
    ),
  template: deviceSchema
    .omit({ count: true })
    .optional()
    .describe('The device that `devices: N` copies; its `id` should contain `{n}`.'),
  rate: z
    .number()
    .positive()
    .max(100_000)
    .optional()
    .describe('Default samples per second of every tag. Overrides `interval`.'),
  interval: durationSchema.prefault('1s').describe('Default time between samples of every tag.'),
  jitter: durationSchema.prefault(0).describe('Default random variation (±) of each gap between samples.'),
  quality: qualitySchema
    .prefault({})
    .describe('Default quality flips: probabilities of `BAD` and `UNCERTAIN` samples.'),
  seed: z
    .number()
    .int()
    .optional()
    .describe('Random seed: the same seed gives the same values (timing aside). Unset = random.'),
  tick: durationSchema
    .prefault('100ms')
    .describe('How often due samples are collected and emitted as one batch. Larger ticks mean bigger, fewer batches.'),
  max_batch: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Largest batch handed to the gateway in one call; a tick with more is split.'),
});

export type SimulatorConfig = z.output<typeof simulatorConfigSchema>;
export type SimulatorConfigInput = z.input<typeof simulatorConfigSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type TagConfig = z.output<typeof tagSchema>;
export type QualityConfig = z.output<typeof qualitySchema>;
