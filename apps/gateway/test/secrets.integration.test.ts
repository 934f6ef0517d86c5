// A full `bifrost run` with secrets configured every way a user can (an API token from `${ENV}`, a
// password inside an endpoint URL, a `password_file`, a wrong inline password, a bearer token from
// `${ENV}`, a database URL with user:pass@) against real peers: startup, delivery, auth failures,
// a connection test, every REST route, shutdown. Every line the gateway wrote and every API
// response (headers and body) is searched for every secret, as written and percent-encoded: none
// may appear.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mosquittoBinary,
  postgresInstallation,
  requirePeer,
  showPeerLogsOnFailure,
  startHttpReceiver,
  startMosquitto,
  startPostgres,
  type HttpReceiverPeer,
  type MosquittoPeer,
  type PostgresPeer,
} from '@bifrost/connector-testkit';
import { GatewayProcess, testGatewayConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';

const peersInstalled = [requirePeer('mosquitto', mosquittoBinary), requirePeer('postgres', postgresInstallation)].every(
  (p) => p.available,
);

/** A secret no other text contains by chance; `@` and `/` so a URL must percent-encode it. */
const secret = (what: string) => `${what}-${randomBytes(9).toString('base64url')}@/x`;

const SECRETS = {
  apiToken: secret('api-token'),
  mqttUrlPassword: secret('mqtt-url-pw'),
  mqttFilePassword: secret('mqtt-file-pw'),
  mqttWrongPassword: secret('mqtt-wrong-pw'),
  httpToken: secret('http-token'),
  postgresPassword: secret('pg-pw'),
};
const POINTS = 50;
/** The connectors that deliver (the wrong-password one never does). */
const DELIVERING = ['mqtt-url', 'mqtt-file', 'tsdb', 'web'];

/** One REST exchange as the test saw it. */
interface Exchange {
  what: string;
  status: number;
  text: string;
}

describe.skipIf(!peersInstalled)('secrets never appear in a full run of the gateway', () => {
  let dir: string;
  let broker: MosquittoPeer | undefined;
  let postgres: PostgresPeer | undefined;
  let web: HttpReceiverPeer | undefined;
  let gateway: GatewayProcess | undefined;
  const exchanges: Exchange[] = [];
  showPeerLogsOnFailure(() => [broker, postgres, web]);

  /** Calls the API (with the token unless `token` says otherwise) and keeps headers and body. */
  async function call(
    path: string,
    init: { method?: string; body?: unknown; token?: string | null } = {},
  ): Promise<Exchange> {
    const token = init.token === undefined ? SECRETS.apiToken : init.token;
    const res = await fetch(`${gateway!.apiUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        ...(token !== null && { authorization: `Bearer ${token}` }),
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
    const exchange = {
      what: `${init.method ?? 'GET'} ${path}`,
      status: res.status,
      text: `${headers}\n\n${await res.text()}`,
    };
    exchanges.push(exchange);
    return exchange;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-secrets-'));
    await Promise.all([
      startMosquitto({
        users: [
          { username: 'url-user', password: SECRETS.mqttUrlPassword },
          { username: 'file-user', password: SECRETS.mqttFilePassword },
        ],
      }).then((p) => {
        broker = p;
      }),
      startPostgres({ user: { username: 'bifrost', password: SECRETS.postgresPassword } }).then((p) => {
        postgres = p;
      }),
      startHttpReceiver({ bearerToken: SECRETS.httpToken }).then((p) => {
        web = p;
      }),
    ]);
    const passwordFile = join(dir, 'mqtt-password');
    writeFileSync(passwordFile, `${SECRETS.mqttFilePassword}\n`, { mode: 0o600 });
    const mqttAt = (auth: string) => `mqtt://${auth}127.0.0.1:${broker!.ports.mqtt}`;
    const delivery = ['        retry_delay: 100ms', '        breaker: { failure_threshold: 3, reset: 1s }'];
    const apiPort = await freePort();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      testGatewayConfig(
        apiPort,
        ['batch_size: 20', 'health_check_interval: 1s', 'queue: { path: ./queue, sync: batch }'],
        [
          '      mqtt-url:',
          '        type: mqtt',
          `        endpoint: ${JSON.stringify(mqttAt(`url-user:${encodeURIComponent(SECRETS.mqttUrlPassword)}@`))}`,
          ...delivery,
          '        provider_config: { topic_prefix: secrets-url, client_id: secrets-url }',
          '      mqtt-file:',
          '        type: mqtt',
          `        endpoint: ${JSON.stringify(mqttAt(''))}`,
          ...delivery,
          `        provider_config: { topic_prefix: secrets-file, client_id: secrets-file, username: file-user, password_file: ${JSON.stringify(passwordFile)} }`,
          '      mqtt-wrong:',
          '        type: mqtt',
          `        endpoint: ${JSON.stringify(mqttAt(''))}`,
          ...delivery,
          `        provider_config: { topic_prefix: secrets-wrong, client_id: secrets-wrong, username: url-user, password: ${JSON.stringify(SECRETS.mqttWrongPassword)} }`,
          '      tsdb:',
          '        type: timescale',
          `        endpoint: ${JSON.stringify(postgres!.url)}`,
          ...delivery,
          '        provider_config: { table: secret_points, ssl_mode: disable }',
          '      web:',
          '        type: http',
          `        endpoint: ${JSON.stringify(web!.url)}`,
          ...delivery,
          '        provider_config: { bearer_token: "${BIFROST_TEST_HTTP_TOKEN}" }',
        ],
      ).replace('  log_level: warn', '  log_level: debug\n  api: { token: "${BIFROST_TEST_API_TOKEN}" }'),
    );
    expect(postgres!.url, 'the database URL carries the password').toContain(
      encodeURIComponent(SECRETS.postgresPassword),
    );
    gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`, SECRETS.apiToken, {
      env: { ...process.env, BIFROST_TEST_API_TOKEN: SECRETS.apiToken, BIFROST_TEST_HTTP_TOKEN: SECRETS.httpToken },
      fullOutput: true,
    });
    await gateway.start();
  }, 90_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await Promise.all([broker?.dispose(), postgres?.dispose(), web?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers, fails auth, answers every route and shuts down without showing any secret', async () => {
    const points = Array.from({ length: POINTS }, (_, i) => ({
      id: randomUUID(),
      deviceId: `dev-${i % 4}`,
      tagName: 'seq',
      value: i,
    }));
    expect((await call('/api/data', { method: 'POST', body: points })).status).toBe(200);
    const sent = async () =>
      JSON.parse((await call('/api/cloud/metrics')).text.split('\n\n').slice(1).join('\n\n')) as {
        connectors: Array<{ name: string; sent: number; breaker: string }>;
      };
    await waitUntil(
      'every connector but mqtt-wrong delivered, mqtt-wrong breaker open',
      async () => {
        const { connectors } = await sent();
        return connectors.every((c) =>
          DELIVERING.includes(c.name) ? c.sent >= POINTS : c.sent === 0 && c.breaker === 'open',
        );
      },
      30_000,
    );

    for (const path of [
      '/health',
      '/ready',
      '/api/cloud/health',
      '/api/cloud/history',
      '/metrics',
      '/',
      '/openapi.json',
      '/api/cloud/deadletters',
    ])
      expect((await call(path)).status, path).toBe(200);
    const connectors = [...DELIVERING, 'mqtt-wrong'];
    for (const name of connectors) {
      const config = await call(`/api/cloud/connectors/${name}/config`);
      expect(config.status, name).toBe(200);
      expect(config.text, `${name} config shows redactions`).toContain('***');
      expect((await call(`/api/cloud/connectors/${name}/test`, { method: 'POST' })).status, name).toBe(200);
    }
    const wrongTest = exchanges.find((e) => e.what === 'POST /api/cloud/connectors/mqtt-wrong/test');
    expect(wrongTest?.text, 'the connection test reports the refused login').toMatch(/"ok":false/);
    expect((await call('/api/cloud/connectors/mqtt-wrong/breaker/reset', { method: 'POST' })).status).toBe(200);
    // Errors: no token, a wrong token, bad input, an unknown connector.
    expect((await call('/api/cloud/health', { token: null })).status).toBe(401);
    expect((await call('/api/cloud/health', { token: `${SECRETS.apiToken}-nope` })).status).toBe(401);
    expect((await call('/api/data', { method: 'POST', body: [{ deviceId: '', value: 1 }] })).status).toBe(400);
    expect((await call('/api/cloud/connectors/nope/config')).status).toBe(404);
    expect((await call('/api/cloud/connectors/nope/data', { method: 'POST', body: points.slice(0, 1) })).status).toBe(
      404,
    );

    expect(await gateway!.stop('SIGTERM'), 'clean shutdown').toBe(0);
    const output = gateway!.output;
    expect(output, 'the wrong password was refused and logged').toMatch(/not authori[sz]ed|bad user name or password/i);

    const leaks: string[] = [];
    for (const [name, value] of Object.entries(SECRETS)) {
      for (const form of new Set([value, encodeURIComponent(value)])) {
        for (const line of output.split('\n'))
          if (line.includes(form)) leaks.push(`${name} in the gateway output: ${line.slice(0, 300)}`);
        for (const e of exchanges)
          if (e.text.includes(form)) leaks.push(`${name} in the answer to ${e.what} (${e.status})`);
      }
    }
    console.log(
      `[secrets] searched ${output.split('\n').length} output lines and ${exchanges.length} API answers for ${Object.keys(SECRETS).length} secrets: ${leaks.length} hits`,
    );
    expect(leaks).toEqual([]);
  });
});
