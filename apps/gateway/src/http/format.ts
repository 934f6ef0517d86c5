// Number formatting of the status page. The page embeds these functions' source text, so each one
// must stand alone: no imports, no module-level names, no calls to one another.

/** A count with thousands separators: `12,345`; `–` when unknown. */
export function formatCount(n: number | undefined): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

/** Milliseconds with at most one decimal: `0.4 ms`, `12.3 ms`, `1,234 ms`; `–` when unknown. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  return `${ms.toLocaleString('en-US', { maximumFractionDigits: ms < 100 ? 1 : 0 })} ms`;
}

/** A rate per second, one decimal below 100: `0.5 points/s`, `1,520 points/s`; `–` when unknown. */
export function formatRate(perSecond: number | undefined, unit = 'points/s'): string {
  if (perSecond === undefined || perSecond === null || !Number.isFinite(perSecond)) return '–';
  return `${perSecond.toLocaleString('en-US', { maximumFractionDigits: perSecond < 100 ? 1 : 0 })} ${unit}`;
}

/** Bytes in decimal units: `512 B`, `1.5 kB`, `12.3 MB`, `1.02 GB`; `–` when unknown. */
export function formatBytes(n: number | undefined): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '–';
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** A duration given in seconds: `0 s`, `3 s`, `4.2 s`, `12 s`, `5 min 3 s`, `2 h 5 min`. */
export function formatSeconds(s: number | undefined): string {
  if (s === undefined || s === null || !Number.isFinite(s)) return '–';
  if (s < 10) return `${s.toLocaleString('en-US', { maximumFractionDigits: 1 })} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const total = Math.round(s);
  if (total < 3600) return `${Math.floor(total / 60)} min ${total % 60} s`;
  return `${Math.floor(total / 3600)} h ${Math.floor((total % 3600) / 60)} min`;
}

/** The page's copy of these formatters, as script text. */
export const FORMATTERS_SOURCE: string = [formatCount, formatMs, formatRate, formatBytes, formatSeconds]
  .map((f) => f.toString())
  .join('\n');
