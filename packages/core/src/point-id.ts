// UUIDv7 point ids at ingest speed. The `uuid` package draws 16 random bytes and formats all 36
// characters for every id (about 8% of a gateway's CPU under REST load). Here the random part is
// drawn once per millisecond: the 74 random bits of RFC 9562 are split into 26 bits fixed for that
// millisecond and a 48-bit counter (RFC 9562 section 6.2, method 2: "monotonic random") seeded with
// 47 random bits; of the counter's 12 hex digits, the last 3 come from a table and the 9 before them
// are formatted once per 4096 ids.
import { randomFillSync } from 'node:crypto';

const COUNTER_LIMIT = 2 ** 48;
const random = new Uint8Array(10);

let lastMs = -1;
/** `tttttttt-tttt-7aaa-vbbb-` of the current millisecond (timestamp, version, fixed random bits). */
let prefix = '';
let counter = 0;
/** The counter's first 9 hex digits (all but its low 12 bits). */
let counterHigh = '';

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');
const HEX3 = Array.from({ length: 4096 }, (_, n) => hex(n, 3));

function startMillisecond(ms: number): void {
  randomFillSync(random);
  const [r0 = 0, r1 = 0, r2 = 0, r3 = 0, r4 = 0, r5 = 0, r6 = 0, r7 = 0, r8 = 0, r9 = 0] = random;
  const time = hex(ms, 12);
  const randA = ((r0 << 4) | (r1 >> 4)) & 0xfff; // 12 bits
  const randB = 0x8000 | (((r1 & 0x0f) << 10) | (r2 << 2) | (r3 >> 6)); // variant 10 + 14 bits
  prefix = `${time.slice(0, 8)}-${time.slice(8)}-7${hex(randA, 3)}-${hex(randB, 4)}-`;
  // 47 random bits: the top bit stays clear so a millisecond has at least 2^47 ids before it rolls over.
  counter = (r9 & 0x7f) * 2 ** 40 + r4 * 2 ** 32 + (((r5 << 24) | (r6 << 16) | (r7 << 8) | r8) >>> 0);
  counterHigh = hex(Math.floor(counter / 4096), 9);
  lastMs = ms;
}

/**
 * A new UUIDv7 (RFC 9562): time-ordered, and strictly increasing within the process, also when the
 * clock steps back (the last millisecond is kept) or a millisecond's counter runs out (the next
 * millisecond starts early).
 */
export function nextPointId(now = Date.now()): string {
  if (now > lastMs) startMillisecond(now);
  else if (++counter >= COUNTER_LIMIT) startMillisecond(lastMs + 1);
  else if (counter % 4096 === 0) counterHigh = hex(counter / 4096, 9);
  return prefix + counterHigh + HEX3[counter % 4096]!;
}
