import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { z, type ConnectorDefinition } from '@bifrost/core';
import { GATEWAY_DIR } from './plugins/discovery.js';

/** The file `run` and `validate` read when no `-c` is given, in the current directory. */
export const DEFAULT_CONFIG_FILE = 'bifrost.yaml';
/** Inside this repository only: the embedded default that `pnpm start` runs. */
export const REPO_EXAMPLE = 'examples/gateway.yaml';

/** The repository root when this gateway runs from its source checkout (not when installed from npm). */
function repositoryRoot(): string | undefined {
  const root = resolve(GATEWAY_DIR, '..', '..');
  return existsSync(join(root, 'pnpm-workspace.yaml')) && existsSync(join(root, REPO_EXAMPLE)) ? root : undefined;
}

export class NoConfigError extends Error {}

/**
 * The config file to read: `-c` as given; else `./bifrost.yaml`; else, only when run from inside
 * this repository, its `examples/gateway.yaml`. Otherwise a `NoConfigError` saying what to do.
 */
export function resolveConfigPath(given: string | undefined, cwd: string = process.cwd()): string {
  if (given) return resolve(cwd, given);
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  if (existsSync(local)) return local;
  const repo = repositoryRoot();
  if (repo && (cwd === repo || cwd.startsWith(repo + sep))) return join(repo, REPO_EXAMPLE);
  throw new NoConfigError(
    [
      `no config file: ${DEFAULT_CONFIG_FILE} not found in ${cwd}`,
      `  bifrost init             writes a commented starter config to ./${DEFAULT_CONFIG_FILE} (simulated devices -> built-in MQTT broker)`,
      `  bifrost init --connector <type>   starts from an installed connector instead (e.g. --connector mqtt)`,
      `  bifrost run -c <file>    uses another config file`,
    ].join('\n'),
  );
}

const HEADER = `# Bifrost gateway config, written by \`bifrost init\`.
#
#   npx bifrost validate        # every problem with its YAML path and line
#   npx bifrost run             # reads ./bifrost.yaml; Ctrl-C stops gracefully
#
# Durations are written 500ms, 5s, 2m. Secrets come from \${ENV_VAR} or *_file keys and are
# redacted in logs and API responses. Full reference: https://www.npmjs.com/package/@bifrost/gateway
`;

function gatewayBlock(opts: { embeddedBroker: boolean }): string {
  return `gateway:
  port: 8080 # REST API, status page (/), Prometheus metrics (/metrics)
  log_level: info
  throughput_log_interval: 10s

  api:
    host: 127.0.0.1 # 0.0.0.0 to listen on every interface
    # token: \${BIFROST_API_TOKEN}   # bearer token for every route but /health

  embedded_broker:
    # An MQTT broker inside the gateway, for trying Bifrost without any external service.
    enabled: ${opts.embeddedBroker}
    host: 127.0.0.1
    port: 1883

  sources:
    sim:
      # Simulated devices (sim-001, ...), five tags each; remove this source when real data
      # arrives through the REST API (POST /api/data) or another source plugin.
      type: simulator
      devices: 3
      interval: 1s
`;
}

function cloudHead(connector: string): string {
  return `
  cloud:
    default_connector: ${connector}
    batch_size: 1000 # points per write; each connector may lower it (its maxBatch)
    batch_timeout: 200ms # how long a partial batch waits for more points

    queue:
      # Every point is queued durably before it is acknowledged, and deleted once delivered.
      path: ./data # relative to this file
      sync: batch # survives kill -9; \`always\` also survives power loss
      when_full: block
      max_points: 1000000

    connectors:
`;
}

const ROUTING = `
    # routing_rules:                # without rules, every point goes to default_connector
    #   - name: alarms-first
    #     condition: quality=ALARM
    #     connectors: [${'${name}'}]
    #     priority: 9                # 9 is delivered first
`;

/** The starter config: simulated devices -> the embedded MQTT broker, through the MQTT connector. */
export function embeddedStarter(): string {
  return `${HEADER}#
# Simulated devices -> durable queue (./data) -> MQTT connector -> the broker inside the gateway.
# Watch the readings with any MQTT client: mosquitto_sub -p 1883 -t 'bifrost/#' -v
# For production, point \`endpoint\` at your broker (mqtt://host:1883 or tls://host:8883) and set
# embedded_broker.enabled: false.
${gatewayBlock({ embeddedBroker: true })}${cloudHead('local-mqtt')}      local-mqtt:
        type: mqtt # the plugin @bifrost/connector-mqtt
        enabled: true
        endpoint: embedded # the embedded broker above; or mqtt://host:1883
        timeout: 10s
        retry_delay: 1s
        provider_config:
          qos: 1
          topic_prefix: bifrost
${ROUTING.replace('${name}', 'local-mqtt')}`;
}

const ENDPOINT_EXAMPLES: Record<string, string> = {
  mqtt: 'mqtt://127.0.0.1:1883',
  amqp: 'amqp://127.0.0.1:5672',
  influxdb: 'http://127.0.0.1:8086',
  timescale: 'postgres://bifrost@127.0.0.1:5432/bifrost',
  kafka: '127.0.0.1:9092',
};

type Json = Record<string, unknown>;

/** JSON Schema of a plugin's config schema as a user writes it (zod 4's converter, input side). */
function jsonSchemaOf(schema: ConnectorDefinition['configSchema']): Json {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
}

function scalar(v: unknown): string {
  return typeof v === 'string' &&
    /^[A-Za-z0-9_][A-Za-z0-9_./:@-]*$/.test(v) &&
    !v.endsWith(':') &&
    !/^(true|false|null|yes|no|on|off|~|-?\d.*)$/i.test(v)
    ? v
    : JSON.stringify(v);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The unwrapped object schema of a JSON Schema node, if it is one (anyOf with null, allOf of one). */
function objectOf(s: Json): Json | undefined {
  if (s.properties && typeof s.properties === 'object') return s;
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = s[k] as Json[] | undefined;
    const [only, ...more] = list?.filter((x) => x.type !== 'null') ?? [];
    if (only && !more.length) return objectOf(only);
  }
  return undefined;
}

function placeholder(s: Json): string {
  const examples = s.examples as unknown[] | undefined;
  if (examples?.length) return scalar(examples[0]);
  if (Array.isArray(s.enum) && s.enum.length) return scalar(s.enum[0]);
  if (s.const !== undefined) return scalar(s.const);
  switch (s.type) {
    case 'number':
    case 'integer':
      return '0';
    case 'boolean':
      return 'false';
    case 'array':
      return '[]';
    case 'object':
      return '{}';
    default:
      return '""';
  }
}

/** YAML lines for the properties of an object schema: defaults written, the rest commented out. */
function propertyLines(schema: Json, indent: string, secrets: ReadonlySet<string>, omit: readonly string[]): string[] {
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const lines: string[] = [];
  for (const [key, raw] of Object.entries(props)) {
    if (omit.includes(key)) continue;
    const desc = typeof raw.description === 'string' ? oneLine(raw.description) : '';
    const isSecret = secrets.has(key);
    const hasDefault = raw.default !== undefined;
    const mustSet = required.has(key) && !hasDefault;
    const notes = [desc, mustSet ? 'required' : '', isSecret ? 'secret: use ${ENV_VAR} or a *_file key' : '']
      .filter(Boolean)
      .join(' | ');
    if (notes) lines.push(`${indent}# ${notes}`);
    const nested = objectOf(raw);
    if (nested && !hasDefault && Object.keys(nested.properties as Json).length) {
      const inner = propertyLines(nested, `${indent}  `, new Set(), []);
      if (mustSet) lines.push(`${indent}${key}:`, ...inner);
      else lines.push(`${indent}# ${key}:`, ...inner.map((l) => l.replace(/^(\s*)(?!#)/, '$1# ')));
      continue;
    }
    if (isSecret)
      lines.push(`${indent}${mustSet ? '' : '# '}${key}: \${${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}}`);
    else if (hasDefault) lines.push(`${indent}${key}: ${scalar(raw.default)}`);
    else lines.push(`${indent}${mustSet ? '' : '# '}${key}: ${placeholder(raw)}`);
  }
  return lines;
}

/**
 * A starter config for one connector type: the simulator feeding that connector, whose
 * `provider_config` lists every option of its schema (description as a comment, defaults written
 * out, required options with a placeholder to fill in, optional ones without default commented out).
 */
export function connectorStarter(def: ConnectorDefinition, pkg: string, secretKeys: readonly string[] = []): string {
  const schema = objectOf(jsonSchemaOf(def.configSchema)) ?? {};
  const name = `my-${def.type}`;
  const endpoint = ENDPOINT_EXAMPLES[def.type];
  const lines = propertyLines(schema, '          ', new Set(secretKeys), ['endpoint']);
  return `${HEADER}#
# Simulated devices -> durable queue (./data) -> the ${def.type} connector (${pkg}).
# Fill in \`endpoint\` and the options marked required, then \`npx bifrost validate\`.
${gatewayBlock({ embeddedBroker: false })}${cloudHead(name)}      ${name}:
        type: ${def.type} # the plugin ${pkg}
        enabled: true
        endpoint: ${endpoint ? `${endpoint} # where the ${def.type} service listens` : '"" # required: where the service listens'}
        timeout: 10s
        retry_delay: 1s
        # tls_enabled: true            # with ca_file, cert_file, key_file for (mutual) TLS
        provider_config:${lines.length ? `\n${lines.join('\n')}` : ' {}'}
${ROUTING.replace('${name}', name)}`;
}
