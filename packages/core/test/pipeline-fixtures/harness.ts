import { vi } from 'vitest';
import type { Logger } from '../../src/index.js';
import type { DurableQueue, Pipeline, PipelineConnector } from '../../src/host.js';
import { createMemoryQueue, createPipeline, openSqliteQueue } from '../../src/host.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditQueue } from './audited-queue.js';
import { ScriptedConnector, scriptedDefinition, type Step } from './scripted-connector.js';

export { nth, take } from '../nth.js';

/** Delivery settings scaled down so failure paths play out in milliseconds. */
export const FAST = {
  batchSize: 10,
  flushIntervalMs: 5,
  timeoutMs: 100,
  maxInFlight: 1,
  retry: { initialDelayMs: 5, multiplier: 2, maxDelayMs: 20, maxElapsedMs: 0 },
  breaker: { failureThreshold: 50, resetMs: 60 },
  healthCheckIntervalMs: 30,
};

/** A logger that keeps every record (to observe breaker transitions and warnings). */
export function recordingLogger(
  records: Array<Record<string, unknown> & { msg?: string }> = [],
): Logger & { records: typeof records } {
  const make = (bindings: Record<string, unknown>): Logger => {
    const log = (level: string) => (obj: unknown, msg?: string) => {
      records.push({ level, time: Date.now(), ...bindings, ...(typeof obj === 'object' && obj ? obj : {}), msg });
    };
    return {
      trace: log('trace'),
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return Object.assign(make({}), { records });
}

/** `K`: the connector names, so `connectors.a` is known to exist when `a` was specified. */
export interface Harness<K extends string = string> {
  pipeline: Pipeline;
  queue: DurableQueue;
  audit: ReturnType<typeof auditQueue>['audit'];
  connectors: Record<K, ScriptedConnector>;
  logger: ReturnType<typeof recordingLogger>;
}

/** The queue implementations every pipeline test runs against. */
export type QueueKind = 'memory' | 'sqlite';
export const QUEUE_KINDS: QueueKind[] = ['memory', 'sqlite'];
let queueKind: QueueKind = 'memory';
const cleanups: Array<() => Promise<void>> = [];

/** Selects the queue implementation the next harnesses use. */
export function useQueue(kind: QueueKind): void {
  queueKind = kind;
}

/** A fresh queue of the selected kind (SQLite in a temp dir, removed by {@link closeQueues}). */
export async function openQueue(): Promise<DurableQueue> {
  if (queueKind === 'memory') return createMemoryQueue();
  const dir = mkdtempSync(join(tmpdir(), 'bifrost-pipeline-'));
  const q = await openSqliteQueue(join(dir, 'queue.db'), { sync: 'batch' });
  cleanups.push(async () => {
    await q.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return q;
}

/** Closes SQLite queues and removes their temp dirs (call after the pipelines stopped). */
export async function closeQueues(): Promise<void> {
  for (const c of cleanups.splice(0)) await c();
}

/** What {@link harness} is told about one scripted connector. */
export interface ConnectorSpec {
  write?: Step[];
  connect?: Step[];
  delivery?: PipelineConnector['delivery'];
  lane?: PipelineConnector['lane'];
  capabilities?: Parameters<typeof scriptedDefinition>[1];
  /** The connector instance's `ordering`, overriding `capabilities.ordering`. */
  ordering?: 'none' | 'per-device';
}

/** A pipeline over an audited queue with scripted connectors (default one named `a`). */
export async function harness<K extends string = 'a'>(
  specs: Record<K, ConnectorSpec> = { a: {} } as Record<K, ConnectorSpec>,
  extra: {
    queue?: DurableQueue;
    router?: Parameters<typeof createPipeline>[0]['router'];
    expireIntervalMs?: number;
  } = {},
): Promise<Harness<K>> {
  const { queue, audit } = auditQueue(extra.queue ?? (await openQueue()));
  const logger = recordingLogger();
  const connectors = {} as Record<K, ScriptedConnector>;
  const entries: PipelineConnector[] = (Object.entries(specs) as Array<[K, ConnectorSpec]>).map(([name, spec]) => {
    const connector = new ScriptedConnector(spec);
    connectors[name] = connector;
    return {
      name,
      definition: scriptedDefinition(connector, spec.capabilities),
      config: {},
      lane: spec.lane,
      delivery: {
        ...FAST,
        ...spec.delivery,
        retry: { ...FAST.retry, ...spec.delivery?.retry },
        breaker: { ...FAST.breaker, ...spec.delivery?.breaker },
      },
    };
  });
  const pipeline = createPipeline({
    queue,
    connectors: entries,
    logger,
    router: extra.router,
    expireIntervalMs: extra.expireIntervalMs,
  });
  return { pipeline, queue, audit, connectors, logger };
}

/**
 * Polls `cond` every 5 ms until true, or fails after `ms`. The default is generous: on a loaded
 * machine a step can take far longer than on a quiet one, and waiting longer costs nothing when it passes.
 */
export async function waitFor(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  await vi.waitFor(
    () => {
      if (!cond()) throw new Error(`timed out waiting for ${what}`);
    },
    { timeout: ms, interval: 5 },
  );
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
