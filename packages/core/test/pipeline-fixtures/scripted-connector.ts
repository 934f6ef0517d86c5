import {
  PartialWriteError,
  defineConnector,
  type Connector,
  type ConnectorCapabilities,
  type DataPoint,
  type PluginContext,
  type WriteReceipt,
} from '../../src/index.js';
import { z } from 'zod';

/** What one `connect` or `write` call does; consumed in order, then `ok` forever. */
export type Step = (batch: readonly DataPoint[]) => Promise<void>;

export const ok: Step = () => Promise.resolve();
/** Throws `err` (a classified error, or anything `classifyError` should handle). */
export const fail =
  (err: unknown): Step =>
  async () => {
    throw err;
  };
/** Takes `ms` before resolving: past the write timeout this is a hung write whose ack arrives late. */
export const hang =
  (ms: number): Step =>
  () =>
    new Promise((r) => setTimeout(r, ms));
/**
 * A write that stays pending until the test calls `release()` (a hung write whose ack arrives
 * exactly when the test says so, whatever the machine's load); `started` resolves when it was called.
 */
export function held(): { step: Step; started: Promise<void>; release: () => void } {
  let release!: () => void;
  let markStarted!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const started = new Promise<void>((r) => (markStarted = r));
  return {
    step: () => {
      markStarted();
      return gate;
    },
    started,
    release,
  };
}
/** Repeats a step `n` times. */
export const times = (n: number, step: Step): Step[] => Array.from({ length: n }, () => step);

/**
 * A connector whose `connect` and `write` follow a script, recording what it really received and
 * acknowledged (a write "acks" a batch when its step resolves, even if the host stopped waiting).
 */
export class ScriptedConnector implements Connector {
  readonly writeScript: Step[];
  readonly connectScript: Step[];
  /** Every batch `write` was called with. */
  readonly received: DataPoint[][] = [];
  /** Ids of every point this sink accepted (write resolved, or listed as accepted in a partial write), in order; duplicates = redeliveries. */
  readonly acked: string[] = [];
  /** `Date.now()` at each write call. */
  readonly writeTimes: number[] = [];
  /** Most writes that were running at the same time. */
  maxConcurrent = 0;
  private running = 0;
  connects = 0;
  closes = 0;
  probe: () => Promise<{ ok: boolean; detail?: string }> = () => Promise.resolve({ ok: true });
  ctx: PluginContext | undefined;

  /** The instance's `ordering` override of the definition's capabilities, when the spec sets one. */
  readonly ordering?: 'none' | 'per-device';

  constructor(script: { write?: Step[]; connect?: Step[]; ordering?: 'none' | 'per-device' } = {}) {
    this.writeScript = [...(script.write ?? [])];
    this.connectScript = [...(script.connect ?? [])];
    if (script.ordering) this.ordering = script.ordering;
  }

  async connect(): Promise<void> {
    this.connects++;
    await (this.connectScript.shift() ?? ok)([]);
  }

  /** What a successful write resolves to (a `WriteReceipt`), if anything. */
  receipt: ((batch: readonly DataPoint[]) => WriteReceipt) | undefined;

  async write(batch: readonly DataPoint[]): Promise<void | WriteReceipt> {
    const copy = [...batch];
    this.received.push(copy);
    this.writeTimes.push(Date.now());
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.running);
    try {
      await (this.writeScript.shift() ?? ok)(copy);
    } catch (err) {
      if (err instanceof PartialWriteError) this.acked.push(...err.accepted);
      throw err;
    } finally {
      this.running--;
    }
    this.acked.push(...copy.map((p) => p.id));
    return this.receipt?.(copy);
  }

  close(): Promise<void> {
    this.closes++;
    return Promise.resolve();
  }

  healthCheck(): Promise<{ ok: boolean; detail?: string }> {
    return this.probe();
  }

  /** Distinct ids acknowledged. */
  ackedIds(): Set<string> {
    return new Set(this.acked);
  }
}

/** A connector definition handing out `instance` (so the test keeps a handle on it). */
export function scriptedDefinition(instance: ScriptedConnector, capabilities: Partial<ConnectorCapabilities> = {}) {
  return defineConnector({
    type: 'scripted',
    configSchema: z.object({}).passthrough(),
    capabilities,
    create(_config, ctx) {
      instance.ctx = ctx;
      return instance;
    },
  });
}

let seq = 0;
/** `n` valid points spread over `devices` devices. */
export function makePoints(n: number, devices = 3): DataPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p-${++seq}`,
    deviceId: `dev-${i % devices}`,
    tagName: 'temperature',
    value: i,
    quality: 'GOOD',
    timestamp: 1_700_000_000_000 + i,
  }));
}
