// How the connector opens its connection to the broker. mqtt.js's connect() loads every transport it
// knows at its first call (WebSocket, SOCKS proxy, mini-program sockets): about 1 MB of the memory
// of an idle gateway that speaks plain MQTT or MQTT over TLS, which need none of them. Those two are
// opened here with node:net and node:tls, as mqtt.js's own stream builders do, and handed to its
// client; WebSocket URLs and a SOCKS proxy (MQTTJS_SOCKS_PROXY, which mqtt.js honours) still go
// through connect(), loaded on first use.
import { createRequire } from 'node:module';
import { connect as netConnect, isIP } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import type * as Mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';

// require(), not import: mqtt.js is CommonJS with `exports.default`, which Node's ESM interop and
// bundlers' (vitest's) hand over differently.
const require = createRequire(import.meta.url);
const { default: Client } = require('mqtt/lib/client') as { default: typeof MqttClient };

/** Schemes of plain MQTT over TCP and of MQTT over TLS, with their default ports. */
const TCP_PORTS: Readonly<Record<string, number>> = { mqtt: 1883, tcp: 1883, mqtts: 8883, tls: 8883, ssl: 8883 };

/** TLS options mqtt.js hands to `tls.connect()` (it passes every client option; these are the ones the connector sets). */
type TlsOptions = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'servername' | 'rejectUnauthorized'>;

/**
 * An mqtt.js client connecting to `url` with `options`, already connecting when returned, as from
 * mqtt.js's `connect()` (and, like it, synchronous: the caller holds the client at once).
 */
export function openClient(url: URL, options: IClientOptions & TlsOptions): MqttClient {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const defaultPort = TCP_PORTS[scheme];
  if (defaultPort === undefined || process.env.MQTTJS_SOCKS_PROXY) {
    const { connect } = require('mqtt') as typeof Mqtt;
    return connect(url.href, options);
  }
  // URL keeps an IPv6 host in brackets; sockets take it without.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : defaultPort;
  const auth = url.username && options.username === undefined ? credentialsOf(url) : {};
  const clientOptions = { ...options, ...auth };
  if (defaultPort === TCP_PORTS.mqtt) return new Client(() => netConnect({ host, port }), clientOptions);
  const { connect: tlsConnect } = process.getBuiltinModule('node:tls');
  const tlsOptions: ConnectionOptions = {
    host,
    port,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    passphrase: options.passphrase,
    // SNI names a host, never an address.
    servername: options.servername ?? (isIP(host) === 0 ? host : undefined),
    rejectUnauthorized: options.rejectUnauthorized !== false,
  };
  return new Client((client) => secureStream(tlsConnect(tlsOptions), client, tlsOptions), clientOptions);
}

/** User name and password given in the URL (`mqtt://user:pass@host`), percent-decoded. */
function credentialsOf(url: URL): Pick<IClientOptions, 'username' | 'password'> {
  const username = decodeURIComponent(url.username);
  return url.password ? { username, password: decodeURIComponent(url.password) } : { username };
}

/**
 * The TLS socket as mqtt.js's TLS stream builder hands it over: until the handshake succeeds, an
 * error (or a peer that failed verification) is the client's error and ends the socket.
 */
function secureStream(socket: TLSSocket, client: MqttClient, options: ConnectionOptions): TLSSocket {
  const beforeHandshake = (err: Error) => {
    if (options.rejectUnauthorized) client.emit('error', err);
    socket.end();
  };
  socket.on('secureConnect', () => {
    if (options.rejectUnauthorized && !socket.authorized) socket.emit('error', new Error('TLS not authorized'));
    else socket.removeListener('error', beforeHandshake);
  });
  socket.on('error', beforeHandshake);
  return socket;
}
