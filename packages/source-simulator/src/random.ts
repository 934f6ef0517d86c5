import type { Random } from '@bifrost/core';

export { seededRandom, type Random } from '@bifrost/core';

/** A uniform number in [-1, 1). */
export const symmetric = (random: Random): number => random() * 2 - 1;
