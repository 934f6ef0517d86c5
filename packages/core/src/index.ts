export * from './data-point.js';
export * from './errors.js';
export * from './plugin.js';
export type * from './tls/types.js';
export * from './queue/types.js';
export type * from './pipeline/types.js';
