// The IoT Hub emulator peer's server process (see `iot-hub.ts`): an aedes broker over TLS speaking
// IoT Hub's device-facing MQTT contract (https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub),
// plus a plain-HTTP control listener for registration, behaviour and read-back. Erasable TypeScript,
// so it runs from dist as `node iot-hub-server.js` or as this file on a Node with type stripping.
// Arguments: --dir <dir> and --config <file> (JSON). Messages and twins are appended to files in the
// directory before the PUBACK / twin response, so a restart (or SIGKILL) keeps what was acknowledged.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import aedes from 'aedes';

interface DeviceIdentity {
  deviceId: string;
  moduleId?: string;
  /** Base64 symmetric key (primary); SAS tokens must be signed with it. */
  key?: string;
  /** SHA-1 or SHA-256 thumbprint (hex, any case, colons allowed) of the client certificate. */
  thumbprint?: string;
}

interface ServerConfig {
  host: string;
  ports: { mqtts: number; control: number };
  hubHost: string;
  tls: { cert: string; key: string };
  devices: DeviceIdentity[];
}

interface Behaviour {
  /** Delay before each telemetry PUBACK. */
  pubackDelayMs: number;
  /** Never acknowledge telemetry (the PUBLISH is not stored either). */
  dropPubacks: boolean;
  /** Status of twin PATCH answers (default 204), e.g. 429 for throttling. */
  twinPatchStatus: number;
}

/** One telemetry message as read back. */
interface StoredMessage {
  seq: number;
  time: number;
  deviceId: string;
  moduleId?: string;
  topic: string;
  /** System properties of the property bag (`$.mid`, `$.ct`, `$.ce`, ...), by their short names. */
  system: Record<string, string>;
  /** Application properties of the property bag. */
  properties: Record<string, string>;
  body: string;
  bytes: number;
}

/** One CONNECT as the emulator judged it. */
interface ConnectRecord {
  time: number;
  clientId: string;
  username: string;
  auth: 'sas' | 'x509' | 'none';
  ok: boolean;
  reason?: string;
}

/** IoT Hub's limit for a device-to-cloud message: body plus properties. */
const MAX_MESSAGE_BYTES = 256 * 1024;
const CONNACK_NOT_AUTHORIZED = 5;
const CONNACK_IDENTIFIER_REJECTED = 2;

const args = process.argv.slice(2);
const arg = (name: string): string => {
  const i = args.indexOf(`--${name}`);
  const value = i < 0 ? undefined : args[i + 1];
  if (!value) throw new Error(`missing --${name}`);
  return value;
};
const dir = arg('dir');
const config = JSON.parse(readFileSync(arg('config'), 'utf8')) as ServerConfig;
const messagesFile = join(dir, 'messages.ndjson');
const devicesFile = join(dir, 'devices.json');
const behaviourFile = join(dir, 'behaviour.json');
const twinsFile = join(dir, 'twins.json');

const defaults = (): Behaviour => ({ pubackDelayMs: 0, dropPubacks: false, twinPatchStatus: 204 });
const readJson = <T>(file: string, fallback: T): T =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : fallback;
let behaviour: Behaviour = { ...defaults(), ...readJson<Partial<Behaviour>>(behaviourFile, {}) };
const devices: DeviceIdentity[] = readJson(devicesFile, config.devices);
const twins: Record<string, { reported: Record<string, unknown>; version: number }> = readJson(twinsFile, {});
const connects: ConnectRecord[] = [];
const messages: StoredMessage[] = existsSync(messagesFile)
  ? readFileSync(messagesFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as StoredMessage];
        } catch {
          return []; // a line torn by SIGKILL
        }
      })
  : [];
let seq = messages.reduce((m, r) => Math.max(m, r.seq), 0);

const identityOf = (clientId: string): DeviceIdentity | undefined =>
  devices.find((d) => (d.moduleId ? `${d.deviceId}/${d.moduleId}` : d.deviceId) === clientId);

const normalThumbprint = (t: string) => t.replace(/:/g, '').toUpperCase();

/**
 * Checks a SAS token as IoT Hub does: `SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded
 * base64 HMAC-SHA256>&se=<expiry, epoch seconds>`, the signature over `<sr as sent>\n<se>` with the
 * device's key, the resource the device's (or module's) URI on this hub, the expiry in the future.
 */
function sasProblem(token: string, identity: DeviceIdentity): string | undefined {
  if (!identity.key) return 'the device is registered for X.509, not a symmetric key';
  const m = /^SharedAccessSignature (.*)$/.exec(token);
  if (!m?.[1]) return 'the password is not a SharedAccessSignature token';
  const fields = new Map<string, string>();
  for (const part of m[1].split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (!sr || !sig || !se) return 'the token lacks sr, sig or se';
  const resource = decodeURIComponent(sr).toLowerCase();
  const want = `${config.hubHost}/devices/${identity.deviceId}${identity.moduleId ? `/modules/${identity.moduleId}` : ''}`;
  if (resource !== want.toLowerCase() && resource !== `${config.hubHost}`.toLowerCase())
    return `the token is for ${decodeURIComponent(sr)}, not ${want}`;
  const expiry = Number(se);
  if (!Number.isFinite(expiry) || expiry * 1000 <= Date.now()) return `the token expired at ${se}`;
  const expected = createHmac('sha256', Buffer.from(identity.key, 'base64')).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'the signature does not match';
  return undefined;
}

/** A client certificate as IoT Hub checks a self-signed / thumbprint device: thumbprint registered, in its validity period. */
function certificateProblem(socket: TLSSocket, identity: DeviceIdentity): string | undefined {
  if (!identity.thumbprint) return 'the device is registered for a symmetric key, not X.509';
  const raw = socket.getPeerCertificate?.()?.raw;
  if (!raw) return 'no client certificate was presented';
  const cert = new X509Certificate(raw);
  const sha1 = createHash('sha1').update(raw).digest('hex').toUpperCase();
  const sha256 = createHash('sha256').update(raw).digest('hex').toUpperCase();
  const want = normalThumbprint(identity.thumbprint);
  if (want !== sha1 && want !== sha256) return `certificate thumbprint ${sha1} is not the registered one`;
  const now = Date.now();
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now)
    return `the certificate is outside its validity (${cert.validFrom} to ${cert.validTo})`;
  return undefined;
}

/** Parses a property bag (`k=v&k2=v2`, URL-encoded) into system (`$.` names) and application properties. */
function parsePropertyBag(bag: string): { system: Record<string, string>; properties: Record<string, string> } {
  const system: Record<string, string> = {};
  const properties: Record<string, string> = {};
  for (const part of bag.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (key.startsWith('$.')) system[key.slice(2)] = value;
    else properties[key] = value;
  }
  return { system, properties };
}

const EVENTS = /^devices\/([^/]+)(?:\/modules\/([^/]+))?\/messages\/events\/(.*)$/;
const TWIN_REQUEST = /^\$iothub\/twin\/(GET|PATCH\/properties\/reported)\/\?(.*)$/;

const broker = aedes.createBroker({ maxClientsIdLength: 256 });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

broker.authenticate = (client, username, password, done) => {
  const socket = client.conn as unknown as TLSSocket;
  const record: ConnectRecord = {
    time: Date.now(),
    clientId: client.id,
    username: username ?? '',
    auth: password ? 'sas' : socket.getPeerCertificate?.()?.raw ? 'x509' : 'none',
    ok: false,
  };
  const refuse = (reason: string, code = CONNACK_NOT_AUTHORIZED) => {
    record.reason = reason;
    connects.push(record);
    done(Object.assign(new Error(reason), { returnCode: code }), false);
  };
  const identity = identityOf(client.id);
  if (!identity) return refuse(`no device or module ${client.id} is registered`, CONNACK_IDENTIFIER_REJECTED);
  const prefix = `${config.hubHost}/${client.id}/?api-version=`;
  if (!username?.startsWith(prefix)) return refuse(`user name must start with ${prefix}`);
  const problem = password ? sasProblem(password.toString('utf8'), identity) : certificateProblem(socket, identity);
  if (problem) return refuse(problem);
  record.ok = true;
  connects.push(record);
  done(null, true);
};

/** Twin response topic -> the client that asked: a response goes to that client only, as on IoT Hub. */
const twinReplies = new Map<string, string>();

function twinKey(deviceId: string, moduleId?: string): string {
  return moduleId ? `${deviceId}/${moduleId}` : deviceId;
}

function answerTwin(clientId: string, kind: string, query: string, body: Buffer): void {
  const rid = new URLSearchParams(query).get('$rid') ?? '';
  const [deviceId = '', moduleId] = clientId.split('/');
  const key = twinKey(deviceId, moduleId);
  const twin = (twins[key] ??= { reported: {}, version: 1 });
  let status = 200;
  let payload = '';
  if (kind === 'GET') {
    payload = JSON.stringify({ desired: { $version: 1 }, reported: { ...twin.reported, $version: twin.version } });
  } else if (behaviour.twinPatchStatus !== 204) {
    status = behaviour.twinPatchStatus;
    // IoT Hub's error body: a six-digit errorCode (status and a detail number) and a message.
    payload = JSON.stringify({ errorCode: status * 1000 + 1, message: `scripted ${status}` });
  } else {
    try {
      mergePatch(twin.reported, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      twin.version++;
      writeFileSync(twinsFile, JSON.stringify(twins));
      status = 204;
    } catch (err) {
      status = 400;
      payload = JSON.stringify({ errorCode: 400004, message: (err as Error).message });
    }
  }
  const topic = `$iothub/twin/res/${status}/?$rid=${rid}${status === 204 ? `&$version=${twin.version}` : ''}`;
  twinReplies.set(topic, clientId);
  broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, () =>
    twinReplies.delete(topic),
  );
}

/** JSON merge patch (RFC 7386) as IoT Hub applies reported-property patches: `null` deletes. */
function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v)) {
      const sub = target[k];
      const obj =
        typeof sub === 'object' && sub !== null && !Array.isArray(sub) ? (sub as Record<string, unknown>) : {};
      mergePatch(obj, v as Record<string, unknown>);
      target[k] = obj;
    } else target[k] = v;
  }
}

broker.authorizePublish = (client, packet, done) => {
  if (!client) return done(null);
  const size = packet.payload.length + Buffer.byteLength(packet.topic);
  const twin = TWIN_REQUEST.exec(packet.topic);
  if (twin?.[1] !== undefined) {
    answerTwin(client.id, twin[1], twin[2] ?? '', packet.payload as Buffer);
    // Answered here; nothing to route.
    return done(null);
  }
  const m = EVENTS.exec(packet.topic);
  const [deviceId, moduleId] = client.id.split('/');
  if (!m || m[1] !== deviceId || (m[2] ?? undefined) !== moduleId) {
    // IoT Hub closes the connection on a PUBLISH to a topic the device may not use.
    process.stdout.write(`refused topic ${packet.topic} from ${client.id}\n`);
    client.close();
    return;
  }
  if (size > MAX_MESSAGE_BYTES) {
    process.stdout.write(`message of ${size} bytes from ${client.id} over ${MAX_MESSAGE_BYTES}: disconnecting\n`);
    client.close();
    return;
  }
  if (behaviour.dropPubacks) return;
  const bag = parsePropertyBag(m[3] ?? '');
  const stored: StoredMessage = {
    seq: ++seq,
    time: Date.now(),
    deviceId: m[1] ?? '',
    ...(m[2] && { moduleId: m[2] }),
    topic: packet.topic,
    ...bag,
    body: (packet.payload as Buffer).toString('utf8'),
    bytes: size,
  };
  messages.push(stored);
  appendFileSync(messagesFile, `${JSON.stringify(stored)}\n`);
  if (behaviour.pubackDelayMs > 0) void sleep(behaviour.pubackDelayMs).then(() => done(null));
  else done(null);
};

broker.authorizeSubscribe = (client, sub, done) => {
  const [deviceId = ''] = client.id.split('/');
  const allowed =
    sub.topic.startsWith('$iothub/twin/') ||
    sub.topic.startsWith('$iothub/methods/') ||
    sub.topic.startsWith(`devices/${deviceId}/`);
  done(allowed ? null : new Error(`subscription to ${sub.topic} not allowed`), allowed ? sub : null);
};

// Telemetry is stored, not routed; a twin response reaches only the client that asked.
broker.authorizeForward = (client, packet) => (client && twinReplies.get(packet.topic) === client.id ? packet : null);

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sockets = new Set<Socket>();

async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const text = await readBody(req);
  const json = (): unknown => (text ? JSON.parse(text) : {});
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /health':
      return reply(res, 200, { ok: true });
    case 'GET /messages': {
      const since = Number(url.searchParams.get('since') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 1e9);
      return reply(res, 200, messages.filter((m) => m.seq > since).slice(0, limit));
    }
    case 'GET /stats':
      return reply(res, 200, { messages: messages.length, lastSeq: seq, clients: broker.connectedClients });
    case 'GET /connects':
      return reply(res, 200, connects);
    case 'POST /devices': {
      const d = json() as DeviceIdentity;
      const at = devices.findIndex((x) => x.deviceId === d.deviceId && x.moduleId === d.moduleId);
      if (at >= 0) devices.splice(at, 1);
      devices.push(d);
      writeFileSync(devicesFile, JSON.stringify(devices));
      return reply(res, 200, d);
    }
    case 'GET /twin':
      return reply(res, 200, twins[url.searchParams.get('id') ?? ''] ?? null);
    case 'POST /behaviour':
      behaviour = { ...behaviour, ...(json() as Partial<Behaviour>) };
      writeFileSync(behaviourFile, JSON.stringify(behaviour));
      return reply(res, 200, behaviour);
    case 'POST /disconnect':
      for (const s of sockets) s.destroy();
      return reply(res, 200, { ok: true });
    case 'POST /reset':
      behaviour = defaults();
      writeFileSync(behaviourFile, JSON.stringify(behaviour));
      if (url.searchParams.get('messages') !== 'keep') {
        messages.length = 0;
        writeFileSync(messagesFile, '');
      }
      return reply(res, 200, behaviour);
    default:
      return reply(res, 404, { error: `no ${route}` });
  }
}

const mqtts = createTlsServer(
  {
    cert: config.tls.cert,
    key: config.tls.key,
    // IoT Hub asks every client for a certificate and judges it at CONNECT by its thumbprint (a
    // self-signed device certificate is fine), so the TLS layer itself verifies nothing.
    requestCert: true,
    rejectUnauthorized: false,
  },
  (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  },
);
mqtts.listen(config.ports.mqtts, config.host);
const control = createServer((req, res) => {
  handleControl(req, res).catch((err: Error) => reply(res, 500, { error: err.message }));
});
control.listen(config.ports.control, config.host);

const stop = () => {
  mqtts.close();
  control.close();
  for (const s of sockets) s.destroy();
  broker.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`iot-hub emulator listening: ${JSON.stringify(config.ports)} as ${config.hubHost}\n`);
