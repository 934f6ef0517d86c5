// The real `bifrost run` loads the InfluxDB, TimescaleDB, AMQP, Kafka and HTTP connectors by `type:` (plugin
// discovery, no `plugin:` path) and delivers REST-ingested points through each to a real peer; every
// point is read back by id with that peer's own client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createKafkaTopic,
  influxdBinary,
  kafkaInstallation,
  postgresInstallation,
  rabbitInstallation,
  requirePeer,
  showPeerLogsOnFailure,
  startInflux,
  startKafka,
  startPostgres,
  startHttpReceiver,
  startRabbitMq,
  type HttpReceiverPeer,
  type InfluxPeer,
  type KafkaPeer,
  type PostgresPeer,
  type RabbitPeer,
} from '@bifrost/connector-testkit';
import { GatewayProcess, postUntilAccepted, testGatewayConfig } from './support/gateway-process.js';
import { freePort, waitUntil } from './support/net.js';
import { amqpIds, httpIds, influxIds, kafkaIds, postgresIds, readBack, type IdReader } from './support/sink-readers.js';

const TOTAL = 2_000;
const BATCH = 200;
const READ_BACK_MS = 30_000;
const TABLE = 'gateway_points';
const MEASUREMENT = 'gateway_points';
const EXCHANGE = 'bifrost.gateway';
const QUEUE = 'gateway-points';
const TOPIC = 'bifrost.gateway.points';
const HTTP_TOKEN = 'gateway-it-token';
/** Connector instance name -> plugin type. */
const CONNECTORS = { tsdb: 'timescale', influx: 'influxdb', rabbit: 'amqp', events: 'kafka', web: 'http' } as const;

const peersInstalled = [
  requirePeer('postgres', postgresInstallation),
  requirePeer('influxdb', influxdBinary),
  requirePeer('rabbitmq', rabbitInstallation),
  requirePeer('kafka', kafkaInstallation),
].every((p) => p.available);

describe.skipIf(!peersInstalled)('gateway with the influxdb, timescale, amqp, kafka and http connectors', () => {
  let dir: string;
  let postgres: PostgresPeer | undefined;
  let influx: InfluxPeer | undefined;
  let rabbit: RabbitPeer | undefined;
  let kafka: KafkaPeer | undefined;
  let web: HttpReceiverPeer | undefined;
  let gateway: GatewayProcess | undefined;
  showPeerLogsOnFailure(() => [postgres, influx, rabbit, kafka, web]);
  beforeEach(({ onTestFailed }) =>
    onTestFailed(() => {
      process.stderr.write(`\n[gateway] last output:\n${gateway?.log.slice(-4_000)}\n`);
    }),
  );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bifrost-connectors-'));
    // Each peer is kept as soon as it is up, so afterAll disposes it even when another one fails.
    await Promise.all([
      startPostgres().then((p) => {
        postgres = p;
      }),
      startInflux().then((p) => {
        influx = p;
      }),
      startRabbitMq().then((p) => {
        rabbit = p;
      }),
      startKafka().then((p) => {
        kafka = p;
      }),
      startHttpReceiver({ bearerToken: HTTP_TOKEN }).then((p) => {
        web = p;
      }),
    ]);
    await Promise.all([bindAmqpQueue(rabbit!.url), createKafkaTopic(kafka!.bootstrap, TOPIC)]);

    const apiPort = await freePort();
    const config = join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      gatewayConfig(apiPort, { postgres: postgres!, influx: influx!, rabbit: rabbit!, kafka: kafka!, web: web! }),
    );
    gateway = new GatewayProcess(config, `http://127.0.0.1:${apiPort}`);
    await gateway.start();
  }, 90_000);

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await Promise.all([postgres?.dispose(), influx?.dispose(), rabbit?.dispose(), kafka?.dispose(), web?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports each connector by its type, healthy', async () => {
    const res = await fetch(`${gateway!.apiUrl}/api/cloud/health`);
    expect(res.status).toBe(200);
    const { connectors } = (await res.json()) as { connectors: Array<{ name: string; type: string; status: string }> };
    expect(Object.fromEntries(connectors.map((c) => [c.name, c.type]))).toEqual(CONNECTORS);
    // Healthy once each has connected to its peer (the first health probe may still be under way).
    await waitUntil(
      'every connector healthy',
      async () => {
        const body = (await (await fetch(`${gateway!.apiUrl}/api/cloud/health`)).json()) as {
          connectors: Array<{ status: string }>;
        };
        return body.connectors.every((c) => c.status === 'healthy');
      },
      20_000,
    );
  });

  it(`delivers ${TOTAL} REST points to every peer, each read back by id, and counts them per connector and type`, async () => {
    // Unique timestamps: InfluxDB keeps one point per series and timestamp.
    const start = Date.now();
    const points = Array.from({ length: TOTAL }, (_, i) => ({
      id: randomUUID(),
      deviceId: `dev-${i % 8}`,
      tagName: 'seq',
      value: i,
      timestamp: start + i,
    }));
    for (let i = 0; i < TOTAL; i += BATCH) await postUntilAccepted(gateway!.apiUrl, points.slice(i, i + BATCH));
    const ids = points.map((p) => p.id);

    const readers: IdReader[] = [
      ...(await Promise.all([
        postgresIds(postgres!.url, TABLE),
        amqpIds(rabbit!.url, QUEUE),
        kafkaIds(kafka!.bootstrap, TOPIC),
      ])),
      influxIds(influx!, MEASUREMENT),
      httpIds(web!),
    ];
    try {
      const got = await Promise.all(
        readers.map(async (r) => ({ sink: r.sink, ids: await readBack(r, ids, READ_BACK_MS) })),
      );
      const report = Object.fromEntries(
        got.map((g) => [
          g.sink,
          {
            distinct: g.ids.size,
            missing: ids.filter((id) => !g.ids.has(id)).length,
          },
        ]),
      );
      console.log(`[connectors] ${TOTAL} points posted; read back per peer: ${JSON.stringify(report)}`);
      for (const g of got) {
        expect(
          ids.filter((id) => !g.ids.has(id)),
          `ids missing at ${g.sink}`,
        ).toEqual([]);
        // Nothing but the posted points reached the sink.
        expect(g.ids.size, `distinct ids at ${g.sink}`).toBe(TOTAL);
      }
    } finally {
      await Promise.all(readers.map((r) => r.close()));
    }

    // The acknowledgement is counted just after the sink has the data: wait for the counters to catch up.
    let sent: Record<string, number> = {};
    await waitUntil(
      'sent counters',
      async () => {
        sent = sentByConnector(await (await fetch(`${gateway!.apiUrl}/metrics`)).text());
        return (
          Object.values(sent).every((n) => n >= TOTAL) && Object.keys(sent).length === Object.keys(CONNECTORS).length
        );
      },
      10_000,
    ).catch(() => undefined);
    expect(sent).toEqual(
      Object.fromEntries(Object.entries(CONNECTORS).map(([name, type]) => [`${name}/${type}`, TOTAL])),
    );
  });
});

/**
 * The connector publishes with `mandatory`: without a bound queue RabbitMQ returns every message
 * as unroutable, so the exchange (as the connector declares it) and a durable queue on `#` come first.
 */
async function bindAmqpQueue(url: string): Promise<void> {
  const conn = await connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
    await ch.assertQueue(QUEUE, { durable: true });
    await ch.bindQueue(QUEUE, EXCHANGE, '#');
  } finally {
    await conn.close();
  }
}

/** `bifrost_cloud_data_points_sent_total` per `connector/type` label pair, from a Prometheus text page. */
function sentByConnector(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('bifrost_cloud_data_points_sent_total{')) continue;
    const connector = /connector="([^"]*)"/.exec(line)?.[1];
    const type = /type="([^"]*)"/.exec(line)?.[1];
    out[`${connector}/${type}`] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

function gatewayConfig(
  apiPort: number,
  p: { postgres: PostgresPeer; influx: InfluxPeer; rabbit: RabbitPeer; kafka: KafkaPeer; web: HttpReceiverPeer },
): string {
  const delivery = [
    '        timeout: 10s',
    '        retry_delay: 100ms',
    '        retry: { max: 1s }',
    '        breaker: { failure_threshold: 10, reset: 1s }',
  ];
  const connector = (name: keyof typeof CONNECTORS, endpoint: string, provider: Record<string, unknown>) => [
    `      ${name}:`,
    `        type: ${CONNECTORS[name]}`,
    `        endpoint: ${JSON.stringify(endpoint)}`,
    ...delivery,
    `        provider_config: ${JSON.stringify(provider)}`,
  ];
  return testGatewayConfig(
    apiPort,
    ['batch_size: 500', 'health_check_interval: 1s', 'queue: { path: ./queue, sync: batch }'],
    [
      ...connector('tsdb', p.postgres.url, { table: TABLE, ssl_mode: 'disable' }),
      ...connector('influx', p.influx.url, {
        version: '1.x',
        database: p.influx.database,
        username: p.influx.admin.username,
        password: p.influx.admin.password,
        measurement: MEASUREMENT,
      }),
      ...connector('rabbit', p.rabbit.url, { exchange: EXCHANGE }),
      ...connector('events', p.kafka.bootstrap, { topic: TOPIC, client_id: 'bifrost-gateway-it' }),
      ...connector('web', p.web.url, { body: 'ndjson', gzip: true, bearer_token: HTTP_TOKEN }),
    ],
  );
}
