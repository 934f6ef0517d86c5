// `pnpm bench simulator`: how fast the simulator produces points into a no-op sink, beside a raw
// loop building the same point objects in the same batches (the most a generator could do here).
// Cases: the 100k points/s load profile (does it keep up, at what CPU cost) and a saturated run
// (what one process can produce at most).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '@bifrost/connector-testkit/bench';
import simulator from '@bifrost/source-simulator';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const DEVICES = 1000;
const TAGS = 5;

function loadConfig(ratePerTag: number, tick: string) {
  return simulator.configSchema.parse({
    seed: 1,
    tick,
    devices: DEVICES,
    rate: ratePerTag,
    template: {
      id: 'load-{n:4}',
      labels: { site: 'bench' },
      tags: Array.from({ length: TAGS }, (_, i) => ({ name: `t${i}`, generator: 'sine' })),
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = () => Math.round(process.memoryUsage().rss / 1048576);

async function runSimulator(ratePerTag: number, tick = '100ms') {
  const src = simulator.create(loadConfig(ratePerTag, tick), {
    name: 'bench',
    logger: silentLogger,
    signal: new AbortController().signal,
  }) as ReturnType<typeof simulator.create> & { stats(): { emitted: number; skipped: number; lateTicks: number } };
  let points = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await src.start((batch) => {
    points += batch.length;
    return Promise.resolve();
  });
  await sleep(SECONDS * 1000);
  await src.stop();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    pps: points / seconds,
    cpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / seconds,
    rss: rssMb(),
    stats: src.stats(),
  };
}

/** The same objects (sine value, quality, timestamp, shared labels), 10,000 per awaited batch, as fast as possible. */
async function runRaw() {
  const ids = Array.from({ length: DEVICES }, (_, i) => `load-${String(i + 1).padStart(4, '0')}`);
  const names = Array.from({ length: TAGS }, (_, i) => `t${i}`);
  const labels = { site: 'bench' };
  const sink = async (_batch: unknown[]) => {};
  let points = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  let t = Date.now();
  while (performance.now() < until) {
    const batch = [];
    for (let i = 0; i < 10_000; i++) {
      t += 0.01;
      const value = Math.round((50 + 50 * Math.sin(t / 9549.3 + i)) * 1000) / 1000;
      batch.push({
        deviceId: ids[i % DEVICES],
        tagName: names[i % TAGS],
        value,
        quality: 'GOOD',
        timestamp: Math.floor(t),
        tags: labels,
      });
    }
    await sink(batch);
    points += batch.length;
    await new Promise((r) => setImmediate(r));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { pps: points / seconds, cpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / seconds };
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
gc();
const nominal = await runSimulator(20);
gc();
const saturated = await runSimulator(1000, '20ms');
gc();
const raw = await runRaw();

// The profile case is rate-limited, so its ratio compares CPU efficiency (points per CPU second);
// the saturated case keeps one core busy like the raw loop, so its ratio compares points/s.
const rawPerCpuS = raw.pps / (raw.cpuPct / 100);
const cases = [
  {
    case: 'simulator 100k/s profile (1000 devices x 5 tags x 20/s), ratio = points per CPU second vs raw',
    points_per_s: Math.round(nominal.pps),
    cpu_pct: Math.round(nominal.cpuPct),
    points_per_cpu_s: Math.round(nominal.pps / (nominal.cpuPct / 100)),
    baseline_points_per_cpu_s: Math.round(rawPerCpuS),
    ratio: +(nominal.pps / (nominal.cpuPct / 100) / rawPerCpuS).toFixed(3),
    skipped: nominal.stats.skipped,
    rss_mb: nominal.rss,
  },
  {
    case: 'simulator saturated (5M/s nominal, tick 20ms), ratio = points/s vs raw',
    points_per_s: Math.round(saturated.pps),
    baseline_points_per_s: Math.round(raw.pps),
    ratio: +(saturated.pps / raw.pps).toFixed(3),
    cpu_pct: Math.round(saturated.cpuPct),
    skipped: saturated.stats.skipped,
    rss_mb: saturated.rss,
  },
];
console.table(cases);
const dir = process.env.BIFROST_BENCH_RESULTS ?? join(process.cwd(), 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'simulator.json'), JSON.stringify({ name: 'simulator', cases }, null, 2) + '\n');
