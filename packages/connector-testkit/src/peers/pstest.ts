import { binaryNotFound, findBinary } from './binaries.js';
import { startProcessPeer, type ProcessPeer } from './process-peer.js';

/** A running Pub/Sub fake (Google's `pstest`, in memory: restarts lose topics and messages). */
export interface PubSubFakePeer extends ProcessPeer<'grpc'> {
  /** `127.0.0.1:<port>`: the value for `PUBSUB_EMULATOR_HOST` / the client's `apiEndpoint`. */
  readonly emulatorHost: string;
}

/** The fake built by `scripts/peers/pstest.sh` from `go/pstest` (`$BIFROST_PSTEST` overrides). */
export function pstestBinary(): string | undefined {
  return findBinary('pstest', { env: 'BIFROST_PSTEST' });
}

/**
 * Starts Google's Pub/Sub fake (cloud.google.com/go/pubsub/v2/pstest) on a loopback gRPC port.
 * Point the Google client at it with `PUBSUB_EMULATOR_HOST=<emulatorHost>` (plaintext, no auth).
 *
 * @example
 * const pubsub = await startPubSubFake();
 * new PubSub({ projectId: 'test', apiEndpoint: pubsub.emulatorHost, emulatorMode: true });
 */
export async function startPubSubFake(): Promise<PubSubFakePeer> {
  const bin = pstestBinary();
  if (!bin) throw binaryNotFound('pstest (the Pub/Sub fake)');
  const peer = await startProcessPeer<'grpc'>({
    name: 'pstest',
    command: bin,
    ports: ['grpc'],
    args: ({ host, ports }) => ['-host', host, '-port', String(ports.grpc)],
    stopSignal: 'SIGINT',
  });
  return Object.assign(peer, { emulatorHost: `${peer.host}:${peer.ports.grpc}` });
}
