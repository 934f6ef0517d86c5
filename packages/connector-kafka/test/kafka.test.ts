import kafkajs from 'kafkajs';
import {
  AuthError,
  ConfigError,
  PayloadError,
  TransientError,
  type DataPoint,
  type PluginContext,
} from '@bifrost/core';
import { expectReadmeOptionsTable, noCancel, silentLogger } from '@bifrost/connector-testkit';
import { describe, expect, it } from 'vitest';
import kafka, {
  bootstrapBrokers,
  pointRecordBytes,
  recordBytes,
  classifyKafkaError,
  clientConfig,
  compileTopic,
  ensureCodec,
  kafkaConfigSchema,
  toRecord,
  topicNameProblem,
} from '../src/index.js';

const ctx = (over: Partial<PluginContext> = {}): PluginContext => ({
  name: 'test',
  logger: silentLogger,
  signal: new AbortController().signal,
  ...over,
});
const point = (over: Partial<DataPoint> = {}): DataPoint => ({
  id: '0190a6c8-0000-7000-8000-000000000001',
  deviceId: 'PLC001',
  tagName: 'temperature',
  value: 21.5,
  quality: 'GOOD',
  timestamp: 1_700_000_000_123,
  ...over,
});

describe('config', () => {
  it('fills defaults', async () => {
    const c = kafkaConfigSchema.parse({ endpoint: 'kafka://b1:9092, b2:9093' });
    expect(c).toMatchObject({
      topic: '{topic_prefix}telemetry',
      topic_prefix: 'bifrost.',
      compression: 'gzip',
      sasl_mechanism: 'none',
      max_in_flight_requests: 5,
    });
    expect(bootstrapBrokers(c)).toEqual(['b1:9092', 'b2:9093']);
    const { default: kafka } = await import('../src/index.js');
    expect(kafka.endpointAliases).toEqual(['brokers']);
  });
  it('names the field at fault', () => {
    const paths = (v: unknown) => kafkaConfigSchema.safeParse(v).error?.issues.map((i) => i.path.join('.'));
    expect(paths({})).toEqual(['endpoint']);
    expect(paths({ endpoint: 'nohost' })).toEqual(['endpoint']);
    expect(paths({ endpoint: 'h:1', sasl_mechanism: 'scram-sha-256' })).toEqual(['username', 'password']);
    expect(paths({ endpoint: 'h:1', max_in_flight_requests: 6 })).toEqual(['max_in_flight_requests']);
    expect(paths({ endpoint: 'h:1', compression: 'brotli' })).toEqual(['compression']);
  });
  it('builds the kafkajs client settings with SASL and TLS', () => {
    const c = kafkaConfigSchema.parse({
      endpoint: 'h:9094',
      sasl_mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
    const cfg = clientConfig(c, ctx({ tls: { ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: true } }));
    expect(cfg.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
    expect(cfg.ssl).toMatchObject({ ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: true });
    expect(clientConfig(kafkaConfigSchema.parse({ endpoint: 'h:1' }), ctx()).ssl).toBeUndefined();
  });
});

describe('topic template', () => {
  it('renders prefix, device and tag', () => {
    expect(compileTopic('{topic_prefix}{device_id}.{tag_name}', 'plant.')(point())).toBe('plant.PLC001.temperature');
    expect(compileTopic('{topic_prefix}telemetry', 'bifrost.')(point())).toBe('bifrost.telemetry');
    expect(compileTopic('{topic_prefix}{tags.line}.{quality}', 'p.')(point({ tags: { line: 'L2' } }))).toBe(
      'p.L2.GOOD',
    );
  });
  it('rejects unknown placeholders and illegal names', () => {
    expect(() => compileTopic('{device}', '')).toThrow(/topic: unknown placeholder \{device\}/);
    expect(topicNameProblem('a/b')).toMatch(/not a legal Kafka topic name/);
    expect(topicNameProblem('..')).toMatch(/not allowed/);
    expect(topicNameProblem('ok.topic-1_x')).toBeUndefined();
  });
});

describe('record', () => {
  it('keys by device, carries the id header and the point as JSON', () => {
    const r = toRecord(point());
    expect(r).toMatchObject({ key: 'PLC001', timestamp: '1700000000123', headers: { 'bifrost-id': point().id } });
    expect(JSON.parse(r.value as string)).toEqual(point());
  });
  it('never puts the host lane priority on the wire', () => {
    const r = toRecord({ ...point(), priority: 9 });
    expect(JSON.parse(r.value as string)).toEqual(point());
  });
});

describe('request sizing (the host cuts batches)', () => {
  it('each instance declares max_message_bytes as its maxBatchBytes, measured by the definition as records', () => {
    const c = kafka.create(kafkaConfigSchema.parse({ endpoint: 'h:9092', max_message_bytes: 12_345 }), ctx());
    expect(c.maxBatchBytes).toBe(12_345);
    expect(kafka.pointBytes(point())).toBe(recordBytes(toRecord(point())));
    expect(kafka.pointBytes(point())).toBe(pointRecordBytes(point()));
  });
  it('counts value, key, id header and framing', () => {
    const r = toRecord(point());
    expect(recordBytes(r)).toBeGreaterThan(Buffer.byteLength(r.value as string) + 'PLC001'.length + 36);
  });
});

describe('classifyKafkaError', () => {
  const protocol = (type: string, retriable: boolean) =>
    Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable });
  it('maps kafkajs errors by kind, unwrapping retries', () => {
    expect(
      classifyKafkaError(Object.assign(new Error('SASL SCRAM failed'), { name: 'KafkaJSSASLAuthenticationError' })),
    ).toBeInstanceOf(AuthError);
    expect(classifyKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED', false))).toBeInstanceOf(AuthError);
    expect(classifyKafkaError(protocol('MESSAGE_TOO_LARGE', false))).toBeInstanceOf(PayloadError);
    expect(classifyKafkaError(protocol('INVALID_RECORD', false))).toBeInstanceOf(PayloadError);
    expect(classifyKafkaError(protocol('UNSUPPORTED_COMPRESSION_TYPE', false))).toBeInstanceOf(ConfigError);
    const retried = Object.assign(new Error('leader'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
      cause: protocol('NOT_LEADER_OR_FOLLOWER', true),
    });
    expect(classifyKafkaError(retried)).toMatchObject({
      kind: 'transient',
      code: 'BIFROST_ERR_KAFKA_NOT_LEADER_OR_FOLLOWER',
    });
    const tls = Object.assign(new Error('Connection error: unable to verify'), {
      name: 'KafkaJSConnectionError',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(classifyKafkaError(tls)).toBeInstanceOf(ConfigError);
    const refused = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
      code: 'ECONNREFUSED',
    });
    expect(classifyKafkaError(refused)).toBeInstanceOf(TransientError);
    expect(
      classifyKafkaError(Object.assign(new Error('timeout'), { name: 'KafkaJSRequestTimeoutError', retriable: true })),
    ).toBeInstanceOf(TransientError);
  });
});

describe('codecs', () => {
  it('gzip is built in; a missing codec package is a ConfigError naming it', async () => {
    await expect(ensureCodec('gzip')).resolves.toBeUndefined();
    await expect(ensureCodec('zstd')).rejects.toThrow(/@kafkajs\/zstd/);
    await expect(ensureCodec('lz4')).rejects.toBeInstanceOf(ConfigError);
  });
  it('registers an installed codec package with kafkajs (kafkajs-snappy is a dev dependency)', async () => {
    await ensureCodec('snappy');
    const snappy = (
      kafkajs.CompressionCodecs as Record<
        number,
        (() => { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }) | undefined
      >
    )[kafkajs.CompressionTypes.Snappy];
    if (!snappy) throw new Error('no snappy codec registered');
    const codec = snappy();
    const packed = await codec.compress({ buffer: Buffer.from('bifrost '.repeat(100)) });
    expect((await codec.decompress(packed)).toString()).toBe('bifrost '.repeat(100));
  });
});

describe('connector without a broker', () => {
  it('dead-letters points with an illegal topic without sending', async () => {
    const c = kafka.create(kafka.configSchema.parse({ endpoint: '127.0.0.1:1', topic: '{device_id}' }), ctx());
    await expect(c.write([point({ deviceId: 'line 1/plc' })], noCancel())).rejects.toMatchObject({
      kind: 'payload',
      pointIds: [point().id],
    });
  });
  it('refuses to write before connect', async () => {
    const c = kafka.create(kafka.configSchema.parse({ endpoint: '127.0.0.1:1' }), ctx());
    await expect(c.write([point()], noCancel())).rejects.toMatchObject({
      kind: 'transient',
      code: 'BIFROST_ERR_KAFKA_NOT_CONNECTED',
    });
  });
});

describe('README', () => {
  it('carries the option table generated from the schema', () => {
    expectReadmeOptionsTable(new URL('../README.md', import.meta.url), kafkaConfigSchema);
  });
});
