import { inspect } from 'node:util';
import { expect } from 'vitest';
import { AuthError, isBifrostError, type BifrostError } from '@bifrost/core';
import {
  createConnector,
  healthOf,
  metricsOf,
  noCancel,
  openCollector,
  sleep,
  startDelivery,
  waitUntil,
} from '../harness.js';
import { expectDelivered, makePoints } from '../points.js';
import type { ConnectionVariant, Scenario, ScenarioContext } from '../types.js';

async function secureDelivery<P>(ctx: ScenarioContext<P>, variant: ConnectionVariant): Promise<void> {
  const collector = await openCollector(ctx);
  const connector = createConnector(ctx, variant);
  await connector.connect();
  const points = makePoints(200, variant.kind);
  await connector.write(points, noCancel());
  await expectDelivered(collector, points, 10_000, ctx.target.capabilities);
}

/** Connects over TLS, verifying the server against the run's CA, and delivers. */
export const tls: Scenario = {
  name: 'tls',
  description: 'TLS with the server verified against the CA: points delivered',
  timeoutMs: 30_000,
  run: (ctx) => secureDelivery(ctx, { kind: 'tls' }),
};

/** Connects with a client certificate the server requires, and delivers. */
export const mtls: Scenario = {
  name: 'mtls',
  description: 'mutual TLS with a client certificate: points delivered',
  timeoutMs: 30_000,
  run: (ctx) => secureDelivery(ctx, { kind: 'mtls' }),
};

async function connectError<P>(ctx: ScenarioContext<P>, variant: ConnectionVariant): Promise<BifrostError> {
  const connector = createConnector(ctx, variant);
  const err = await connector
    .connect()
    .then(() => connector.write(makePoints(1, variant.kind), noCancel()))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  if (err === undefined)
    throw new Error(
      `[conformance] connecting with '${variant.kind}' succeeded and a write was acknowledged; it must fail`,
    );
  expect(isBifrostError(err), `a classified BifrostError, got ${inspect(err)}`).toBe(true);
  const e = err as BifrostError;
  // Contract v2: the host prefixes messages (`[bifrost] [type:name]`) once; a connector does not.
  expect(e.message, 'error message unprefixed (the host prefixes it)').not.toMatch(/^\[bifrost\]/);
  expect(e.code).toMatch(/^BIFROST_ERR_/);
  return e;
}

/** Wrong credentials: AuthError, health red, every point kept queued. */
export const badCredentials: Scenario = {
  name: 'bad-credentials',
  description:
    'a wrong password gives AuthError; through the pipeline health turns unhealthy and nothing is dropped or dead-lettered',
  timeoutMs: 30_000,
  async run(ctx) {
    const err = await connectError(ctx, { kind: 'bad-credentials' });
    expect(err, `AuthError, got ${err.name}: ${err.message}`).toBeInstanceOf(AuthError);

    const d = await startDelivery(ctx, { kind: 'bad-credentials' });
    const points = makePoints(50, 'badcred');
    await d.ingest(points);
    await waitUntil(
      () => healthOf(d).status === 'unhealthy',
      10_000,
      () => `health unhealthy (health: ${JSON.stringify(healthOf(d))})`,
    );
    await sleep(1_500);
    const h = healthOf(d);
    expect(h.lastError?.code, 'last error').toBe(err.code);
    const stats = d.queue.stats(d.name);
    expect(stats.points, 'points still queued').toBe(points.length);
    expect(stats.deadLetters, 'dead letters').toBe(0);
    expect(metricsOf(d).sent).toBe(0);
  },
};

/** A server certificate from a CA the client does not trust: a clear, non-retryable certificate error. */
export const untrustedCa: Scenario = {
  name: 'untrusted-ca',
  description: 'the client trusts another CA: connect fails with a clear certificate error that is not retried blindly',
  timeoutMs: 30_000,
  async run(ctx) {
    const err = await connectError(ctx, { kind: 'untrusted-ca' });
    expect(err.kind, `non-transient, got ${err.code}: ${err.message}`).not.toBe('transient');
    expect(err.message).toMatch(/certificate|self[- ]signed|issuer|verify/i);
  },
};

/** An expired client certificate on an mTLS listener: a clear error. */
export const expiredCert: Scenario = {
  name: 'expired-cert',
  description: 'an expired client certificate: connect fails with an error that names the certificate problem',
  timeoutMs: 30_000,
  async run(ctx) {
    const err = await connectError(ctx, { kind: 'expired-cert' });
    expect(`${err.code} ${err.message}`).toMatch(/certificate|expired|TLS/i);
  },
};
