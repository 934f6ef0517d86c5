import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connector, DataPoint, Logger, PluginContext, WriteOptions } from '@bifrost/core';
import {
  createPipeline,
  openSqliteQueue,
  type DeliveryOptionsInput,
  type DurableQueue,
  type Pipeline,
} from '@bifrost/core/host';
import type { ConnectionVariant, ConnectorSetup, ScenarioContext } from './types.js';

/** Logger handed to connectors in the suite: silent unless `BIFROST_CONFORMANCE_LOG=1`, then one JSON line per entry on stderr. */
export function conformanceLogger(bindings: Record<string, unknown> = {}): Logger {
  const verbose = process.env.BIFROST_CONFORMANCE_LOG === '1';
  const write = (level: string) => (obj: unknown, msg?: string) => {
    if (verbose) process.stderr.write(`${JSON.stringify({ level, ...bindings, ...(obj as object), msg })}\n`);
  };
  return {
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => conformanceLogger({ ...bindings, ...more }),
  };
}

/** The author's setup for `variant`, or skips the scenario saying which variant is missing. */
export function setupFor<P>(ctx: ScenarioContext<P>, variant: ConnectionVariant): ConnectorSetup {
  const setup = ctx.target.config(ctx.peer, variant);
  if (!setup)
    return ctx.skip(
      variant.kind === 'proxied' && variant.plainWire
        ? 'the connector under test offers no plain wire to read a marker from (it only speaks TLS)'
        : `the connector under test offers no '${variant.kind}' configuration`,
    );
  return setup;
}

/** Instance name used for connectors the suite creates. */
export const CONFORMANCE_CONNECTOR = 'conformance';

/** Creates (but does not connect) a connector for `variant`; it is closed after the scenario. */
export function createConnector<P>(ctx: ScenarioContext<P>, variant: ConnectionVariant): Connector {
  const setup = setupFor(ctx, variant);
  const { plugin } = ctx.target;
  const abort = new AbortController();
  const pctx: PluginContext = {
    name: CONFORMANCE_CONNECTOR,
    logger: conformanceLogger({ connector: `${plugin.type}:${CONFORMANCE_CONNECTOR}` }),
    signal: abort.signal,
  };
  if (setup.tls) pctx.tls = setup.tls;
  const connector = plugin.create(plugin.configSchema.parse(setup.config), pctx);
  ctx.defer(async () => {
    abort.abort();
    await connector.close();
  });
  return connector;
}

/** Batch size for direct writes: the author's choice, else the plugin's `maxBatch` capped at 1000. */
export function batchSizeOf<P>(ctx: ScenarioContext<P>): number {
  return ctx.target.capabilities?.batchSize ?? Math.min(ctx.target.plugin.capabilities.maxBatch, 1000);
}

/** Writes `points` in batches of `batchSize`, one batch after the other. */
export async function writeInBatches(
  connector: Connector,
  points: readonly DataPoint[],
  batchSize: number,
): Promise<void> {
  for (let i = 0; i < points.length; i += batchSize) await connector.write(points.slice(i, i + batchSize), noCancel());
}

/**
 * Delivery settings for pipeline scenarios: small flush interval, quick retries and a breaker that
 * opens after 3 failures and tries again after 1 s, so outages resolve within the scenario's bounds.
 */
export const FAST_DELIVERY: DeliveryOptionsInput = {
  flushIntervalMs: 20,
  timeoutMs: 5_000,
  maxInFlight: 4,
  retry: { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1_000, maxElapsedMs: 0 },
  breaker: { failureThreshold: 3, resetMs: 1_000 },
  healthCheckIntervalMs: 250,
};

/** A running pipeline with one connector under test, on the SQLite queue the gateway uses. */
export interface Delivery {
  pipeline: Pipeline;
  queue: DurableQueue;
  /** Instance name of the connector in the pipeline. */
  name: string;
  /** Queues points for the connector (resolves once queued). */
  ingest(points: readonly DataPoint[]): Promise<void>;
}

/**
 * Runs the real core pipeline (batching, retries, breaker, dead letters, metrics) with the
 * connector under test for `variant`, on a durable SQLite queue in a temporary directory; stopped
 * and removed after the scenario.
 */
export async function startDelivery<P>(
  ctx: ScenarioContext<P>,
  variant: ConnectionVariant,
  delivery: DeliveryOptionsInput = {},
): Promise<Delivery> {
  const setup = setupFor(ctx, variant);
  const { plugin } = ctx.target;
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-conformance-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  const queue = await openSqliteQueue(join(dir, 'queue.db'), { sync: 'batch' });
  const author = ctx.target.delivery ?? {};
  const pipeline = createPipeline({
    queue,
    logger: conformanceLogger(),
    expireIntervalMs: 60_000,
    connectors: [
      {
        name: CONFORMANCE_CONNECTOR,
        definition: plugin,
        config: plugin.configSchema.parse(setup.config),
        ...(setup.tls ? { tls: setup.tls } : {}),
        delivery: {
          batchSize: batchSizeOf(ctx),
          ...FAST_DELIVERY,
          ...author,
          ...delivery,
          retry: { ...FAST_DELIVERY.retry, ...author.retry, ...delivery.retry },
          breaker: { ...FAST_DELIVERY.breaker, ...author.breaker, ...delivery.breaker },
        },
      },
    ],
  });
  pipeline.start();
  ctx.defer(async () => {
    await pipeline.stop({ deadlineMs: 2_000 });
    await queue.close();
  });
  return {
    pipeline,
    queue,
    name: CONFORMANCE_CONNECTOR,
    async ingest(points) {
      await pipeline.ingest(points, { connector: CONFORMANCE_CONNECTOR });
    },
  };
}

/** Polls `check` every 50 ms until it returns true; throws `what` with the last state after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`[conformance] timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The connector's health entry in the pipeline. */
export function healthOf(d: Delivery) {
  const h = d.pipeline.health().find((x) => x.name === d.name);
  if (!h) throw new Error(`[conformance] pipeline has no connector ${d.name}`);
  return h;
}

/** The connector's metrics entry in the pipeline. */
export function metricsOf(d: Delivery) {
  const m = d.pipeline.metricsSnapshot().connectors.find((x) => x.name === d.name);
  if (!m) throw new Error(`[conformance] pipeline has no connector ${d.name}`);
  return m;
}

/** Opens the author's read-back for this scenario; closed after it. */
export async function openCollector<P>(ctx: ScenarioContext<P>) {
  const collector = await ctx.target.readBack(ctx.peer);
  ctx.defer(() => collector.close());
  return collector;
}

/** Write options for a direct `connector.write` outside the host: a signal that is never aborted. */
export function noCancel(): WriteOptions {
  return { signal: new AbortController().signal };
}
