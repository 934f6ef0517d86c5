import {
  AuthError,
  PartialWriteError,
  TransientError,
  defineConnector,
  z,
  type Connector,
  type DataPoint,
} from '@bifrost/core';
import { describe, expect, it } from 'vitest';
import {
  ScenarioSkipped,
  badCredentials,
  describeConnector,
  connectCloseIdempotent,
  makePoint,
  metricsMatchDelivery,
  parallelWriters,
  peerKilled,
  peerRestart,
  poisonToDeadLetter,
  runScenario,
  sendOne,
  sendThousand,
  tls,
  writeTimeoutNoOverlap,
  type Collector,
  type ConnectorUnderTest,
  type ReceivedPoint,
  type Scenario,
} from '../src/index.js';

/** An in-memory "peer": what a real broker or database would be, without the network. */
class MemoryPeer {
  up = true;
  epoch = 0;
  readonly password = 'secret';
  readonly received = new Map<string, DataPoint>();
  /** The link went silent (a fault proxy's timeout toxic): writes hang until it is back. */
  silent = false;
  private wake: Array<() => void> = [];
  setSilent(on: boolean): void {
    this.silent = on;
    if (!on) for (const w of this.wake.splice(0)) w();
  }
  /** Resolves when the link is back; with a signal, rejects when it aborts first. */
  waitForLink(signal?: AbortSignal): Promise<void> {
    if (!this.silent) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.wake.push(resolve);
      signal?.addEventListener(
        'abort',
        () => reject(new TransientError('write cancelled', { code: 'BIFROST_ERR_X' })),
        {
          once: true,
        },
      );
    });
  }
  async restart(): Promise<void> {
    this.up = false;
    this.epoch++;
    await new Promise((r) => setTimeout(r, 200));
    this.up = true;
  }
}

type Flaw = 'none' | 'loses-points' | 'changes-values' | 'acks-when-closed' | 'ignores-signal' | 'prefixes-errors';

/** A connector to {@link MemoryPeer}; `flaw` plants the bug a conformance scenario must catch. */
function memoryPlugin(peer: MemoryPeer, flaw: Flaw) {
  return defineConnector({
    type: 'memory',
    configSchema: z.object({ password: z.string(), reject_value: z.string().default('POISON') }).strict(),
    capabilities: { maxBatch: 500 },
    create(config): Connector {
      let epoch: number | undefined;
      let sentCount = 0;
      const live = () => epoch !== undefined && epoch === peer.epoch && peer.up;
      return {
        async connect() {
          if (!peer.up) throw new TransientError('connect ECONNREFUSED', { code: 'BIFROST_ERR_NET_ECONNREFUSED' });
          if (config.password !== peer.password)
            throw new AuthError('bad password', {
              code: 'BIFROST_ERR_MEMORY_AUTH',
              ...(flaw === 'prefixes-errors' ? { connector: 'memory:conformance' } : {}),
            });
          epoch = peer.epoch;
        },
        async write(batch, { signal }) {
          if (!live() && flaw !== 'acks-when-closed')
            throw new TransientError('not connected', { code: 'BIFROST_ERR_NOT_CONNECTED' });
          await peer.waitForLink(flaw === 'ignores-signal' ? undefined : signal);
          const rejected = batch
            .filter((p) => p.value === config.reject_value)
            .map((p) => ({ id: p.id, reason: 'value refused by the memory peer' }));
          for (const p of batch) {
            if (p.value === config.reject_value) continue;
            sentCount++;
            if (flaw === 'loses-points' && sentCount % 500 === 0) continue;
            peer.received.set(
              p.id,
              flaw === 'changes-values' && sentCount % 300 === 0 ? { ...p, value: 'changed' } : p,
            );
          }
          if (rejected.length)
            return Promise.reject(
              new PartialWriteError(
                batch.filter((p) => p.value !== config.reject_value).map((p) => p.id),
                rejected,
              ),
            );
          return Promise.resolve();
        },
        close() {
          epoch = undefined;
          return Promise.resolve();
        },
        healthCheck() {
          return Promise.resolve({ ok: live() });
        },
      };
    },
  });
}

function memoryCollector(peer: MemoryPeer): Collector {
  return {
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (ids.some((id) => !peer.received.has(id)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const out = new Map<string, ReceivedPoint>();
      for (const id of ids) {
        const p = peer.received.get(id);
        if (p) out.set(id, p);
      }
      return out;
    },
    async close() {},
  };
}

function target(flaw: Flaw = 'none'): { target: ConnectorUnderTest<MemoryPeer>; peer: MemoryPeer } {
  const peer = new MemoryPeer();
  return {
    peer,
    target: {
      name: `memory (${flaw})`,
      plugin: memoryPlugin(peer, flaw),
      peer: () => Promise.resolve(peer),
      dispose: async () => {},
      config: (p, v) => {
        if (v.kind === 'plain' || v.kind === 'proxied') return { config: { password: p.password } };
        if (v.kind === 'bad-credentials') return { config: { password: 'wrong' } };
        return undefined;
      },
      readBack: (p) => Promise.resolve(memoryCollector(p)),
      restart: (p) => p.restart(),
      // The memory peer keeps nothing unacknowledged, so a crash is a restart to it.
      kill: (p) => p.restart(),
      poison: () => ({ ...makePoint('poison'), value: 'POISON' }),
      address: () => ({ host: 'memory', port: 0 }),
      // The memory "proxy" silences the link (writes hang) for a timeout fault.
      faultProxy: async () => ({
        listen: { host: 'memory', port: 0 },
        async inject(fault) {
          if (fault.type === 'timeout') peer.setSilent(true);
          return async () => peer.setSilent(false);
        },
        async close() {
          peer.setSilent(false);
        },
      }),
    },
  };
}

const quiet = { log: () => {} };
const run = (s: Scenario, flaw: Flaw = 'none') => {
  const t = target(flaw);
  return runScenario(s, t.target, t.peer, quiet);
};

describe('conformance scenarios pass a correct connector', () => {
  for (const s of [
    connectCloseIdempotent,
    sendOne,
    sendThousand,
    parallelWriters,
    metricsMatchDelivery,
    poisonToDeadLetter,
    badCredentials,
    peerRestart,
    peerKilled,
    writeTimeoutNoOverlap,
  ]) {
    it(s.name, () => run(s), s.timeoutMs);
  }
});

describe('conformance scenarios catch a broken connector', () => {
  it('send-1000 fails when the sink silently loses points, naming how many', async () => {
    await expect(run(sendThousand, 'loses-points')).rejects.toThrow(/998\/1000 points read back .* 2 missing/);
  });

  it('send-1000 fails when values arrive changed', async () => {
    await expect(run(sendThousand, 'changes-values')).rejects.toThrow(/3 with other values .*value "changed"/);
  });

  it('connect-close-idempotent fails when a write after close reports success', async () => {
    await expect(run(connectCloseIdempotent, 'acks-when-closed')).rejects.toThrow(/write after close must fail/);
  });

  it(
    'write-timeout-no-overlap fails when a write ignores its signal and its retry overlaps it',
    async () => {
      await expect(run(writeTimeoutNoOverlap, 'ignores-signal')).rejects.toThrow(/point ids in two writes at once/);
    },
    writeTimeoutNoOverlap.timeoutMs,
  );

  it('bad-credentials fails when the connector prefixes its own errors (the host prefixes once)', async () => {
    await expect(run(badCredentials, 'prefixes-errors')).rejects.toThrow(/error message unprefixed/);
  });

  it('the poison scenario fails when the poison point is delivered instead of dead-lettered', async () => {
    const t = target();
    t.target.poison = () => makePoint('not-poison');
    await expect(runScenario(poisonToDeadLetter, t.target, t.peer, quiet)).rejects.toThrow(/dead-lettered ids/);
  });
});

describe('runScenario', () => {
  it('reports a scenario the target cannot run as skipped, with the reason', async () => {
    const err = await run(tls).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioSkipped);
    expect((err as Error).message).toBe(
      "[conformance] tls skipped: the connector under test offers no 'tls' configuration",
    );
  });

  it('skips the kill scenario for a peer that cannot be killed', async () => {
    const t = target();
    delete t.target.kill;
    const err = await runScenario(peerKilled, t.target, t.peer, quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioSkipped);
    expect((err as Error).message).toBe('[conformance] peer-killed-mid-stream skipped: no kill(peer) given');
  });

  it('runs cleanups even when the scenario fails', async () => {
    const order: string[] = [];
    const failing: Scenario = {
      name: 'failing',
      description: 'x',
      timeoutMs: 1_000,
      run(ctx) {
        ctx.defer(() => {
          order.push('first');
        });
        ctx.defer(() => {
          order.push('second');
        });
        return Promise.reject(new Error('boom'));
      },
    };
    const t = target();
    await expect(runScenario(failing, t.target, t.peer, quiet)).rejects.toThrow('boom');
    expect(order).toEqual(['second', 'first']);
  });
});

// describeConnector itself: registers a describe block with one test per chosen scenario.
describeConnector({
  ...target().target,
  name: 'memory via describeConnector',
  scenarios: ['send-1', 'metrics-counted'],
});

describe('describeConnector', () => {
  it('refuses unknown scenario names, listing the known ones', () => {
    expect(() => describeConnector({ ...target().target, scenarios: ['send-2'] })).toThrow(
      /unknown scenario name\(s\): send-2; known: connect-close-idempotent, send-1,/,
    );
  });
});
