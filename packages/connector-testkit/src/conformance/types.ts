import type { ConnectorDefinition, DataPoint, TlsMaterial } from '@bifrost/core';
import type { DeliveryOptionsInput } from '@bifrost/core/host';

/**
 * How the suite asks the connector author to reach the peer. `config` returns `undefined` for a
 * variant the peer or connector does not offer; scenarios needing it are then skipped, saying so.
 */
export type ConnectionVariant =
  /** Plain connection with valid credentials. */
  | { kind: 'plain' }
  /** TLS, the server verified against the run's CA. */
  | { kind: 'tls' }
  /** TLS plus a client certificate the server requires (mTLS). */
  | { kind: 'mtls' }
  /** Plain connection, valid user with a wrong password (or a wrong token). */
  | { kind: 'bad-credentials' }
  /** TLS, but the client trusts a different CA than the one that signed the server certificate. */
  | { kind: 'untrusted-ca' }
  /** mTLS with an expired client certificate. */
  | { kind: 'expired-cert' }
  /**
   * Plain connection to `host:port` (a Toxiproxy listener in front of the peer) instead of the peer
   * itself. `plainWire`: the scenario reads the points' bytes on the wire (a marker in a device id),
   * so turn off what hides them, such as compression.
   */
  | { kind: 'proxied'; host: string; port: number; plainWire?: boolean };

export type VariantKind = ConnectionVariant['kind'];

/** What `config` returns: the plugin config (as a user writes it, before `configSchema` parses it) and TLS material for `ctx.tls`. */
export interface ConnectorSetup {
  config: Record<string, unknown>;
  tls?: TlsMaterial;
}

/** A point as read back from the peer. Fields the sink does not keep may be absent. */
export interface ReceivedPoint {
  id: string;
  value: unknown;
  deviceId?: string;
  tagName?: string;
  quality?: string;
  timestamp?: number;
}

/**
 * Reads points back from the peer. Opened by a scenario before it writes (a subscriber must exist
 * before the messages), closed at its end. Query-based sinks poll; stream sinks collect.
 */
export interface Collector {
  /**
   * Resolves once every id of `ids` was received, or when `timeoutMs` has passed, with what was
   * received for those ids (first copy of each).
   */
  waitFor(ids: readonly string[], timeoutMs: number): Promise<Map<string, ReceivedPoint>>;
  close(): Promise<void>;
}

/** Where the peer listens for plain connections, so the suite can put Toxiproxy in front of it. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** A fault the suite injects between the connector and the peer (Toxiproxy toxics). */
export type NetworkFault =
  | { type: 'latency'; latencyMs: number }
  | { type: 'bandwidth'; kbPerSecond: number }
  | { type: 'timeout'; timeoutMs: number }
  | { type: 'reset_peer'; timeoutMs: number }
  /**
   * Whenever the client-to-server bytes of a connection contain `marker`, that chunk is dropped and
   * the connection reset: a peer refusing one point by dropping the connection right after it is
   * sent (poison after send). Needs a proxy that reads the bytes (the testkit's node engine).
   */
  | { type: 'cut_on_marker'; marker: string };

/** A TCP proxy in front of the peer whose link the suite can degrade; Toxiproxy satisfies it through an adapter. */
export interface FaultProxy {
  /** Where the connector connects instead of the peer. */
  readonly listen: PeerAddress;
  /**
   * Adds a fault on the link (both directions where it applies); returns a function removing it.
   * Rejects with {@link UnsupportedFaultError} for a fault this proxy cannot make.
   */
  inject(fault: NetworkFault): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Thrown by {@link FaultProxy.inject} for a fault the proxy's engine cannot make (Toxiproxy cannot read the bytes). */
export class UnsupportedFaultError extends Error {
  constructor(
    readonly fault: NetworkFault['type'],
    engine: string,
  ) {
    super(`[testkit] ${engine} cannot make the '${fault}' fault`);
    this.name = 'UnsupportedFaultError';
  }
}

/** Starts a proxy forwarding to `upstream`; the suite calls it for network-fault scenarios. */
export type FaultProxyFactory = (upstream: PeerAddress) => Promise<FaultProxy>;

/** Static facts that decide which scenarios apply and how values are compared. */
export interface ConformanceCapabilities {
  /** Largest batch handed to one `write` in the suite (default: the plugin's `maxBatch`, at most 1000). */
  batchSize?: number;
  /** Points of the large-batch scenario (default 100,000); lower it only for sinks that cannot take that much in a test. */
  largeCount?: number;
  /**
   * Compares a point sent with the one read back; return a difference description or `undefined`
   * when equal. Default: `value` deep-equal, and `deviceId`, `tagName`, `quality`, `timestamp`
   * equal when the read-back point has them.
   */
  compare?: (sent: DataPoint, received: ReceivedPoint) => string | undefined;
}

/** Everything `describeConnector` needs to run the suite against one connector and one peer. */
export interface ConnectorUnderTest<P = unknown> {
  /** Title of the vitest `describe` block, e.g. `mqtt on mosquitto`. */
  name: string;
  plugin: ConnectorDefinition;
  /** Starts the peer once for the whole suite. */
  peer: () => Promise<P>;
  /** Stops the peer and removes what it left behind. */
  dispose: (peer: P) => Promise<void>;
  /** Connector config for a variant, or `undefined` when the variant is not offered. */
  config: (peer: P, variant: ConnectionVariant) => ConnectorSetup | undefined;
  /** Opens a reader of what reached the peer (called before the scenario writes). */
  readBack: (peer: P) => Promise<Collector>;
  /** Plain address of the peer, for network-fault scenarios (omit to skip them). */
  address?: (peer: P) => PeerAddress;
  /** Restarts the peer gracefully on the same address (omit to skip the restart scenario). */
  restart?: (peer: P) => Promise<void>;
  /**
   * Kills the peer with SIGKILL (as in a power cut of its host) and starts it again on the same
   * address and data, e.g. `async (p) => { await p.kill(); await p.start(); }` with a testkit peer
   * (omit to skip the kill scenario).
   */
  kill?: (peer: P) => Promise<void>;
  /** Stops the peer, keeping its data and address, until `start` (omit to skip the outage scenario). */
  stop?: (peer: P) => Promise<void>;
  start?: (peer: P) => Promise<void>;
  /**
   * A point the sink will never accept (poison), e.g. too large for the broker's limit. Omit when the
   * sink accepts anything: the poison scenario is then skipped.
   */
  poison?: () => DataPoint;
  /** Starts a proxy for network-fault scenarios; omit to skip them. The testkit's Toxiproxy adapter fits. */
  faultProxy?: FaultProxyFactory;
  capabilities?: ConformanceCapabilities;
  /** Only these scenarios (by name); default all. */
  scenarios?: readonly string[];
  /**
   * Gate on the peer being installed, e.g. the result of `requirePeer('mosquitto', ...)`: when
   * `available` is false the whole suite is skipped (outside CI; `requirePeer` throws in CI).
   */
  requires?: { available: boolean; reason?: string | undefined };
  /** Delivery settings for pipeline scenarios, over the suite's fast-retry defaults. */
  delivery?: DeliveryOptionsInput;
}

/** What a scenario gets to do its work. */
export interface ScenarioContext<P = unknown> {
  readonly target: ConnectorUnderTest<P>;
  readonly peer: P;
  /** Marks the scenario skipped with the reason (throws; nothing after it runs). */
  skip(reason: string): never;
  /** Registers cleanup run after the scenario, last registered first, even when it fails. */
  defer(fn: () => Promise<void> | void): void;
  /** Progress line shown in the test output (counts, durations). */
  log(message: string): void;
}

/** One named, time-bounded check. Third parties may run any of them alone through `runScenario`. */
export interface Scenario {
  /** Stable name, e.g. `send-batch-1000`. */
  readonly name: string;
  /** What it proves, one line. */
  readonly description: string;
  /** Upper bound on its duration; vitest fails it past this. */
  readonly timeoutMs: number;
  run<P>(ctx: ScenarioContext<P>): Promise<void>;
}
