import { describe, expect, it } from 'vitest';
import { awsIotConfigSchema, DEFAULT_TOPIC } from '../src/index.js';

/** Seed 001's `provider_config`, flattened with the connector-level `endpoint` as the host does. */
const seed = {
  endpoint: 'your-endpoint.iot.us-east-1.amazonaws.com',
  region: 'us-east-1',
  client_id: 'bifrost-gateway',
  thing_name: 'bifrost-gateway-001',
  topic_prefix: 'bifrost',
  shadow_update: true,
  qos: 1,
};

function issues(input: Record<string, unknown>): string[] {
  const r = awsIotConfigSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('awsIotConfigSchema', () => {
  it("accepts seed 001's config as written, with AWS's defaults", () => {
    const c = awsIotConfigSchema.parse(seed);
    expect(c).toMatchObject({
      port: 8883,
      topic: DEFAULT_TOPIC,
      messages: 'point',
      max_publish_rate: 100,
      max_throughput_kib: 512,
      shadow_interval: 10_000,
      shadow_per_device: false,
    });
  });

  it('refuses qos 2, naming the field and why', () => {
    expect(issues({ ...seed, qos: 2 })).toEqual(['qos: qos must be 0 or 1: AWS IoT Core does not support QoS 2']);
  });

  it('requires thing_name and endpoint with a hint', () => {
    const { thing_name: _t, endpoint: _e, ...rest } = seed;
    expect(issues(rest)).toEqual([
      'endpoint: endpoint is required: your AWS IoT data endpoint, e.g. abc123-ats.iot.us-east-1.amazonaws.com',
      'thing_name: thing_name is required: the AWS IoT thing this gateway is registered as',
    ]);
  });

  it('refuses an endpoint written as a URL', () => {
    expect(issues({ ...seed, endpoint: 'mqtts://x.iot.us-east-1.amazonaws.com:8883' })[0]).toMatch(
      /^endpoint: endpoint must be a host name without scheme or port/,
    );
  });

  it('refuses a region that contradicts the endpoint', () => {
    expect(issues({ ...seed, region: 'eu-west-1' })).toEqual([
      "region: region eu-west-1 does not match the endpoint's region us-east-1",
    ]);
  });

  it('refuses a topic template whose fixed part already has more than 7 slashes', () => {
    expect(issues({ ...seed, topic: 'a/b/c/d/e/f/{thing_name}/{device_id}/{tag_name}' })).toEqual([
      "topic: topic template has 8 slashes once filled in, over AWS IoT's limit of 7",
    ]);
  });

  it('counts slashes inside topic_prefix too', () => {
    expect(issues({ ...seed, topic_prefix: 'a/b/c/d/e/f' })[0]).toMatch(/topic: topic template has 8 slashes/);
  });

  it('refuses a $ topic (use basic_ingest_rule) and a bad rule name', () => {
    expect(issues({ ...seed, topic: '$aws/rules/r/{device_id}' })[0]).toMatch(/must not start with \$/);
    expect(issues({ ...seed, basic_ingest_rule: 'my-rule' })).toEqual([
      'basic_ingest_rule: basic_ingest_rule must be an AWS IoT rule name (letters, digits and _)',
    ]);
  });

  it('keeps keep-alive within what AWS IoT accepts', () => {
    expect(issues({ ...seed, keepalive_s: 10 })[0]).toMatch(/^keepalive_s:/);
    expect(issues({ ...seed, keepalive_s: 1201 })[0]).toMatch(/^keepalive_s:/);
  });

  it('refuses unknown options', () => {
    expect(issues({ ...seed, shadow_intervall: '5s' })[0]).toMatch(/shadow_intervall/);
  });
});
