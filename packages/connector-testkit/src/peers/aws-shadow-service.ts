import { randomBytes } from 'node:crypto';
import type mqttModule from 'mqtt';

type MqttJs = typeof mqttModule;

/** A shadow document as AWS IoT stores it: state, per-field metadata left out, a version. */
export interface ShadowDocument {
  state: { reported?: Record<string, unknown>; desired?: Record<string, unknown> };
  version: number;
  /** Epoch seconds of the last update, as AWS IoT reports it. */
  timestamp: number;
}

/** An update the service answered, for tests that check what the client sent. */
export interface ShadowUpdateRecord {
  thing: string;
  /** Shadow name, '' for the classic shadow. */
  shadow: string;
  /** `accepted`, or the `/update/rejected` error code. */
  outcome: 'accepted' | number;
  /** The request as received. */
  request: unknown;
}

/** Options of {@link startAwsShadowService}. */
export interface AwsShadowServiceOptions {
  /** Broker URL the service connects to as an ordinary MQTT 5 client, e.g. a Mosquitto peer's plain `url`. */
  url: string;
  username?: string;
  password?: string;
}

/** The running shadow service. */
export interface AwsShadowService {
  /** The stored document of `thing`'s shadow (`shadow` '' or omitted: the classic one), or undefined. */
  document(thing: string, shadow?: string): ShadowDocument | undefined;
  /** Names of the shadows `thing` has (classic as ''). */
  shadows(thing: string): string[];
  /** Every update answered so far, in order. */
  readonly updates: readonly ShadowUpdateRecord[];
  /**
   * Writes `reported` into a document as another writer would (a cloud application, a second
   * gateway), bumping its version: the next update carrying the old version gets a 409.
   */
  writeAsOther(thing: string, shadow: string, reported: Record<string, unknown>): void;
  /** Answers the next `count` updates of any shadow with `code`/`message` instead of applying them. */
  failNext(count: number, code: number, message: string): void;
  close(): Promise<void>;
}

/** AWS IoT's shadow service limits ("AWS IoT Device Shadow service limits and quotas"). */
export const SHADOW_SERVICE_LIMITS = {
  /** "Maximum size of a JSON state document: 8 KB" (the state object). */
  stateBytes: 8 * 1024,
  /** "Maximum number of levels in the desired or reported section of a JSON device state document: 6". */
  depth: 6,
} as const;

const UPDATE = /^\$aws\/things\/([^/]+)\/shadow(?:\/name\/([^/]+))?\/(update|get|delete)$/;

async function loadMqtt(): Promise<MqttJs> {
  try {
    return ((await import('mqtt')) as { default: MqttJs }).default;
  } catch (err) {
    throw new Error(
      `startAwsShadowService needs mqtt (mqtt.js), an optional peer dependency of @bifrost/connector-testkit: npm i -D mqtt (${(err as Error).message})`,
    );
  }
}

/**
 * AWS IoT's Device Shadow service over any MQTT broker, to AWS's documented MQTT topics
 * (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html): it subscribes
 * to `$aws/things/+/shadow/update` (classic) and `.../shadow/name/+/update` (named), and `get`;
 * keeps each document with its version; merges `state.reported` / `state.desired` (`null`
 * deletes a key); answers `/update/accepted` (with `clientToken`, `version`, `timestamp`),
 * `/update/documents`, `/update/delta` when desired and reported differ, and `/update/rejected`
 * with AWS's error codes and messages: 400 (invalid JSON, no `state`, nesting over 6 levels),
 * 409 (`version` not the current one), 413 (state over 8 KB). `get` answers `/get/accepted` or
 * 404 on `/get/rejected`. Not emulated: `delete`, persistence across restarts, metadata per field,
 * throttling (429) unless asked through `failNext`.
 */
export async function startAwsShadowService(opts: AwsShadowServiceOptions): Promise<AwsShadowService> {
  const mqtt = await loadMqtt();
  const docs = new Map<string, ShadowDocument>();
  const updates: ShadowUpdateRecord[] = [];
  const failures: Array<{ code: number; message: string }> = [];
  const key = (thing: string, shadow: string) => `${thing}\u0000${shadow}`;
  const client = mqtt.connect(opts.url, {
    protocolVersion: 5,
    clientId: `aws-shadow-service-${randomBytes(4).toString('hex')}`,
    reconnectPeriod: 100,
    ...(opts.username !== undefined && { username: opts.username }),
    ...(opts.password !== undefined && { password: opts.password }),
  });
  client.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const filters = ['$aws/things/+/shadow/+', '$aws/things/+/shadow/name/+/+'];
  await client.subscribeAsync(filters, { qos: 1 });
  // A broker restart loses a clean session's subscriptions: renew them on every reconnect.
  client.on('connect', () => void client.subscribeAsync(filters, { qos: 1 }).catch(() => undefined));

  const now = () => Math.floor(Date.now() / 1000);
  const reply = (base: string, suffix: string, body: unknown) =>
    void client.publishAsync(`${base}/${suffix}`, JSON.stringify(body), { qos: 1 }).catch(() => undefined);

  client.on('message', (topic, payload) => {
    const m = UPDATE.exec(topic);
    if (!m) return;
    const [, thing = '', shadow = '', op] = m;
    const base = topic.slice(0, -(op!.length + 1));
    let request: Record<string, unknown>;
    try {
      const parsed: unknown = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      request = parsed as Record<string, unknown>;
    } catch {
      if (op === 'update') updates.push({ thing, shadow, outcome: 400, request: payload.toString('utf8') });
      return reply(base, `${op}/rejected`, { code: 400, message: 'Payload contains invalid json', timestamp: now() });
    }
    const clientToken = typeof request.clientToken === 'string' ? request.clientToken : undefined;
    const reject = (code: number, message: string) => {
      if (op === 'update') updates.push({ thing, shadow, outcome: code, request });
      reply(base, `${op}/rejected`, { code, message, timestamp: now(), ...(clientToken && { clientToken }) });
    };
    const current = docs.get(key(thing, shadow));
    if (op === 'get') {
      if (!current) return reject(404, `No shadow exists with name: '${shadow || thing}'`);
      return reply(base, 'get/accepted', { ...current, ...(clientToken && { clientToken }) });
    }
    if (op !== 'update') return;
    const injected = failures.shift();
    if (injected) return reject(injected.code, injected.message);
    const state = request.state;
    if (typeof state !== 'object' || state === null || Array.isArray(state))
      return reject(400, 'Missing required node: state');
    const { reported, desired } = state as { reported?: unknown; desired?: unknown };
    for (const section of [reported, desired])
      if (section !== undefined && section !== null && depthOf(section) > SHADOW_SERVICE_LIMITS.depth)
        return reject(400, `JSON contains too many levels of nesting; maximum is ${SHADOW_SERVICE_LIMITS.depth}`);
    if (Buffer.byteLength(JSON.stringify(state)) > SHADOW_SERVICE_LIMITS.stateBytes)
      return reject(413, 'The payload exceeds the maximum size allowed');
    if (request.version !== undefined && request.version !== (current?.version ?? 0))
      return reject(409, 'Version conflict');
    const nextReported = merge(current?.state.reported, reported);
    const nextDesired = merge(current?.state.desired, desired);
    const next: ShadowDocument = {
      state: {
        ...(nextReported && { reported: nextReported }),
        ...(nextDesired && { desired: nextDesired }),
      },
      version: (current?.version ?? 0) + 1,
      timestamp: now(),
    };
    if (Buffer.byteLength(JSON.stringify(next.state)) > SHADOW_SERVICE_LIMITS.stateBytes)
      return reject(413, 'The payload exceeds the maximum size allowed');
    docs.set(key(thing, shadow), next);
    updates.push({ thing, shadow, outcome: 'accepted', request });
    const token = clientToken ? { clientToken } : {};
    reply(base, 'update/accepted', { state, version: next.version, timestamp: next.timestamp, ...token });
    reply(base, 'update/documents', {
      previous: current ?? null,
      current: next,
      timestamp: next.timestamp,
      ...token,
    });
    const delta = deltaOf(next.state.desired, next.state.reported);
    if (delta)
      reply(base, 'update/delta', { state: delta, version: next.version, timestamp: next.timestamp, ...token });
  });

  return {
    document: (thing, shadow = '') => docs.get(key(thing, shadow)),
    shadows: (thing) =>
      [...docs.keys()].filter((k) => k.startsWith(`${thing}\u0000`)).map((k) => k.split('\u0000')[1]!),
    updates,
    writeAsOther(thing, shadow, reported) {
      const current = docs.get(key(thing, shadow));
      docs.set(key(thing, shadow), {
        state: { ...current?.state, reported: merge(current?.state.reported, reported) ?? {} },
        version: (current?.version ?? 0) + 1,
        timestamp: now(),
      });
    },
    failNext(count, code, message) {
      for (let i = 0; i < count; i++) failures.push({ code, message });
    },
    async close() {
      await client.endAsync(true);
    },
  };
}

/** AWS's merge of an update section into a stored one: objects merge, `null` deletes, the rest replaces. */
function merge(stored: unknown, update: unknown): Record<string, unknown> | undefined {
  if (update === undefined) return stored as Record<string, unknown> | undefined;
  if (update === null) return undefined;
  const out: Record<string, unknown> = { ...(isObject(stored) ? stored : {}) };
  for (const [k, v] of Object.entries(update as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else if (isObject(v)) out[k] = merge(out[k], v) ?? {};
    else out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** What `desired` holds that `reported` does not (AWS's delta), or undefined when nothing. */
function deltaOf(desired: unknown, reported: unknown): Record<string, unknown> | undefined {
  if (!isObject(desired)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(desired)) {
    const r = isObject(reported) ? reported[k] : undefined;
    if (isObject(v)) {
      const d = deltaOf(v, r);
      if (d) out[k] = d;
    } else if (JSON.stringify(v) !== JSON.stringify(r)) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function depthOf(v: unknown): number {
  if (!isObject(v)) return 0;
  let max = 0;
  for (const child of Object.values(v)) max = Math.max(max, depthOf(child));
  return max + 1;
}
