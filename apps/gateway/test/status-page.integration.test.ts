// The status page in headless Chromium against the real `bifrost run`: one MQTT connector on a
// Mosquitto peer that is stopped halfway, one on the embedded broker. Screenshots of the healthy and
// the broker-down gateway go to test-output/; the numbers on the page must match /api/cloud/metrics,
// and the breaker-reset and replay buttons must reach the API with the bearer token.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  mosquittoBinary,
  requirePeer,
  showPeerLogsOnFailure,
  startMosquitto,
  type MosquittoPeer,
} from '@bifrost/connector-testkit';
import type { PipelineMetricsSnapshot } from '@bifrost/core/host';
import { chromium as chromiumType, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatCount } from '../src/http/format.js';
import { GatewayProcess } from './support/gateway-process.js';
import { freePort } from './support/net.js';

/** Debian's Chromium; BIFROST_CHROMIUM names another build. */
const CHROMIUM = process.env.BIFROST_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'status-page-test-token';
const OUTPUT = join(import.meta.dirname, '..', 'test-output');
const HEALTHY_POINTS = 500;
const LOCAL_POINTS = 300;
const DOWN_POINTS = 120;

const chromium = requirePeer('chromium', () =>
  existsSync(CHROMIUM)
    ? CHROMIUM
    : { missing: `no Chromium at ${CHROMIUM} (Debian/Ubuntu: apt-get install -y chromium)` },
);
const mosquitto = requirePeer('mosquitto', mosquittoBinary);

const auth = { authorization: `Bearer ${TOKEN}` };

async function metrics(apiUrl: string): Promise<PipelineMetricsSnapshot> {
  const res = await fetch(`${apiUrl}/api/cloud/metrics`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as PipelineMetricsSnapshot;
}

async function post(apiUrl: string, connector: string, points: unknown[]): Promise<void> {
  const res = await fetch(`${apiUrl}/api/cloud/connectors/${connector}/data`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(points),
  });
  expect(res.status).toBe(200);
}

const readings = (n: number, device: string) =>
  Array.from({ length: n }, (_, i) => ({ deviceId: device, tagName: 'temperature', value: 20 + (i % 10) }));

/** The text the page shows in `field` of `connector`'s card. */
async function shown(page: Page, connector: string, field: string): Promise<string> {
  return (await page.locator(`[data-connector="${connector}"] [data-field="${field}"]`).textContent()) ?? '';
}

/** The page's sent, failed, queue depth, dead letters and breaker of `connector` equal the API's. */
async function expectPageMatchesMetrics(page: Page, apiUrl: string, connector: string): Promise<void> {
  const c = (await metrics(apiUrl)).connectors.find((x) => x.name === connector)!;
  expect(
    {
      sent: await shown(page, connector, 'sent'),
      failed: await shown(page, connector, 'failed'),
      depth: await shown(page, connector, 'depth'),
      deadLetters: await shown(page, connector, 'deadLetters'),
      breaker: await shown(page, connector, 'breaker'),
    },
    connector,
  ).toEqual({
    sent: formatCount(c.sent),
    failed: formatCount(c.failed),
    depth: formatCount(c.queue.depth),
    deadLetters: formatCount(c.queue.deadLetters),
    breaker: c.breaker,
  });
}

describe.skipIf(!chromium.available || !mosquitto.available)('status page in headless Chromium', () => {
  let dir: string;
  let broker: MosquittoPeer | undefined;
  let gateway: GatewayProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  showPeerLogsOnFailure(() => [broker]);
  beforeEach(({ onTestFailed }) =>
    onTestFailed(() => {
      process.stderr.write(`\n[gateway] last output:\n${gateway?.log.slice(-4_000)}\n`);
    }),
  );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-status-page-'));
    mkdirSync(OUTPUT, { recursive: true });
    broker = await startMosquitto();
    const apiPort = await freePort();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'gateway:',
        `  port: ${apiPort}`,
        '  log_level: warn',
        '  throughput_log_interval: 0',
        '  shutdown_timeout: 2s',
        `  api: { host: 127.0.0.1, token: ${TOKEN} }`,
        `  embedded_broker: { enabled: true, host: 127.0.0.1, port: ${await freePort()} }`,
        '  cloud:',
        '    batch_timeout: 20ms',
        '    queue: { memory_only: true }',
        '    connectors:',
        '      plant-broker:',
        '        type: mqtt',
        `        endpoint: ${broker.url}`,
        '        timeout: 1s',
        '        retry_delay: 100ms',
        '        retry: { max: 500ms }',
        '        breaker: { failure_threshold: 2, reset: 10m }',
        '        provider_config: { qos: 1, topic_prefix: status, client_id: bifrost-status-page }',
        '      local:',
        '        type: mqtt',
        '        endpoint: embedded',
        '        provider_config: { qos: 1, topic_prefix: local }',
        '',
      ].join('\n'),
    );
    gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`, TOKEN);
    await gateway.start();
    browser = await chromiumType.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    const code = await gateway?.stop('SIGTERM');
    await broker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(code ?? 0).toBe(0);
  });

  it('shows a healthy gateway with the numbers of /api/cloud/metrics, dead letters with their reasons', async () => {
    const apiUrl = gateway!.apiUrl;
    // A `#` in a tag name makes an MQTT topic with a wildcard: the connector dead-letters that point.
    await post(apiUrl, 'plant-broker', [
      ...readings(HEALTHY_POINTS, 'press-01'),
      { deviceId: 'press-01', tagName: 'line#2', value: 1 },
    ]);
    await post(apiUrl, 'local', readings(LOCAL_POINTS, 'oven-01'));
    await vi.waitFor(
      async () => {
        const m = await metrics(apiUrl);
        expect(m.connectors.map((c) => [c.name, c.sent, c.queue.depth, c.queue.deadLetters])).toEqual([
          ['plant-broker', HEALTHY_POINTS, 0, 1],
          ['local', LOCAL_POINTS, 0, 0],
        ]);
      },
      { timeout: 20_000, interval: 100 },
    );

    await page.goto(`${apiUrl}/#token=${TOKEN}`);
    await vi.waitFor(async () => expect(await shown(page, 'plant-broker', 'sent')).toBe(formatCount(HEALTHY_POINTS)), {
      timeout: 15_000,
      interval: 100,
    });
    await vi.waitFor(async () => expect(await page.locator('[data-field="dlRows"] tr').count()).toBe(1), {
      timeout: 10_000,
      interval: 100,
    });
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.evaluate(() => localStorage.getItem('bifrostToken'))).toBe(TOKEN);
    expect(await page.locator('#status').textContent()).toBe('healthy');
    await expectPageMatchesMetrics(page, apiUrl, 'plant-broker');
    await expectPageMatchesMetrics(page, apiUrl, 'local');
    expect(await shown(page, 'plant-broker', 'sent')).toBe('500');
    expect(await shown(page, 'local', 'sent')).toBe('300');
    expect(await page.locator('[data-connector="plant-broker"] [data-field="dlRows"]').textContent()).toMatch(
      /press-01 \/ line#2.*wildcard/,
    );
    expect(await page.locator('[data-connector="plant-broker"] [data-action="reset"]').isDisabled()).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'status-healthy.png'), fullPage: true });
  });

  it('shows the broker-down connector with its open breaker and next trial; reset and replay reach the API with the token', async () => {
    const apiUrl = gateway!.apiUrl;
    await broker!.stop();
    await post(apiUrl, 'plant-broker', readings(DOWN_POINTS, 'press-02'));
    await vi.waitFor(
      async () => {
        const c = (await metrics(apiUrl)).connectors.find((x) => x.name === 'plant-broker')!;
        expect([c.breaker, c.queue.depth]).toEqual(['open', DOWN_POINTS]);
      },
      { timeout: 30_000, interval: 100 },
    );
    await vi.waitFor(
      async () => {
        expect(await shown(page, 'plant-broker', 'breaker')).toBe('open');
        expect(await shown(page, 'plant-broker', 'depth')).toBe(formatCount(DOWN_POINTS));
      },
      { timeout: 15_000, interval: 100 },
    );
    await expectPageMatchesMetrics(page, apiUrl, 'plant-broker');
    await expectPageMatchesMetrics(page, apiUrl, 'local');
    expect(await page.locator('#status').textContent()).toBe('unhealthy');
    expect(await shown(page, 'plant-broker', 'trial')).toMatch(/^in \d+ min \d+ s \(\d\d:\d\d:\d\d\)$/);
    expect(await shown(page, 'plant-broker', 'lastError')).toMatch(/^Last error .*BIFROST_ERR/);
    expect(await shown(page, 'plant-broker', 'connected')).toBe('no');
    expect(await shown(page, 'local', 'breaker')).toBe('closed');
    await page.screenshot({ path: join(OUTPUT, 'status-broker-down.png'), fullPage: true });

    const card = page.locator('[data-connector="plant-broker"]');
    const [reset] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/cloud/connectors/plant-broker/breaker/reset')),
      card.locator('[data-action="reset"]').click(),
    ]);
    expect(reset.status()).toBe(200);
    expect(reset.request().headers().authorization).toBe(`Bearer ${TOKEN}`);
    expect(await reset.json()).toMatchObject({ name: 'plant-broker', reset: true });
    await vi.waitFor(async () => expect(await shown(page, 'plant-broker', 'actionResult')).toMatch(/breaker closed/), {
      timeout: 5_000,
      interval: 100,
    });

    const [replay] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/cloud/deadletters/replay')),
      card.locator('[data-action="replay"]').click(),
    ]);
    expect(replay.status()).toBe(200);
    expect(replay.request().headers().authorization).toBe(`Bearer ${TOKEN}`);
    expect(await replay.json()).toEqual({ replayed: 1 });
    await vi.waitFor(async () => expect(await card.locator('[data-field="dlBox"]').isHidden()).toBe(true), {
      timeout: 5_000,
      interval: 100,
    });
    expect(await shown(page, 'plant-broker', 'actionResult')).toBe('replayed 1');
    expect(await card.locator('[data-action="replay"]').isDisabled()).toBe(true);
    const held = await fetch(`${apiUrl}/api/cloud/deadletters?connector=plant-broker`, { headers: auth });
    expect(((await held.json()) as { deadLetters: unknown[] }).deadLetters).toEqual([]);
    // The broker is still down, so the reset breaker may open again before the page's next poll:
    // the page must show what the API says once it has polled, not at every instant.
    await vi.waitFor(() => expectPageMatchesMetrics(page, apiUrl, 'plant-broker'), { timeout: 10_000, interval: 200 });
  });
});
