// Argument checks of the public queue methods (lane settings, enqueue items), naming the field at fault.
import type { EnqueueItem, LaneSettings } from './types.js';

const WHEN_FULL = ['block', 'drop_oldest', 'drop_newest'];
const ORDERS = ['oldest_first', 'newest_first'];

/** Checks lane settings and names the field at fault (`<where>.maxPoints must be ...`). */
export function checkLaneSettings(settings: Partial<LaneSettings>, where: string): Partial<LaneSettings> {
  const bad = (field: string, what: string, got: unknown) =>
    new TypeError(`[bifrost] queue ${where}: ${field} must be ${what}, got ${JSON.stringify(got)}`);
  if (settings === null || typeof settings !== 'object') throw bad('settings', 'an object', settings);
  for (const field of ['maxPoints', 'maxBytes', 'ttlMs'] as const) {
    const v = settings[field];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0))
      throw bad(field, 'a non-negative integer (0 = unlimited)', v);
  }
  if (settings.whenFull !== undefined && !WHEN_FULL.includes(settings.whenFull))
    throw bad('whenFull', WHEN_FULL.join(' | '), settings.whenFull);
  if (settings.order !== undefined && !ORDERS.includes(settings.order))
    throw bad('order', ORDERS.join(' | '), settings.order);
  const known = new Set(['maxPoints', 'maxBytes', 'whenFull', 'ttlMs', 'order']);
  const unknown = Object.keys(settings).find((k) => !known.has(k));
  if (unknown)
    throw bad(
      unknown,
      `one of ${[...known].join(', ')} (unknown setting)`,
      (settings as Record<string, unknown>)[unknown],
    );
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
}

/** Checks what `enqueue` was given and names the item and field at fault (`items[3].priority`). */
export function checkEnqueueItems(items: readonly EnqueueItem[]): void {
  if (!Array.isArray(items)) throw new TypeError('[bifrost] enqueue: items must be an array');
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as Partial<EnqueueItem> | null;
    const bad = (field: string, what: string) =>
      new TypeError(`[bifrost] enqueue: items[${i}]${field} must be ${what}`);
    if (it === null || typeof it !== 'object') throw bad('', 'an object');
    if (typeof it.connector !== 'string' || !it.connector) throw bad('.connector', 'a non-empty string');
    if (!Number.isInteger(it.priority) || it.priority! < 0 || it.priority! > 9)
      throw bad('.priority', 'an integer 0..9');
    if (it.point === null || typeof it.point !== 'object') throw bad('.point', 'a data point object');
    if (typeof it.point.id !== 'string' || !it.point.id) throw bad('.point.id', 'a non-empty string');
  }
}
