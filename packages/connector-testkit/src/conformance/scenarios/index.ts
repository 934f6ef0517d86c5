import type { Scenario } from '../types.js';
import { connectCloseIdempotent } from './connection.js';
import { metricsMatchDelivery } from './metrics.js';
import { networkBandwidth, networkLatency, networkResetPeer, networkTimeout } from './network.js';
import { poisonToDeadLetter } from './poison.js';
import { poisonAfterSend } from './poison-after-send.js';
import { peerDownThenUp, peerKilled, peerRestart } from './resilience.js';
import { badCredentials, expiredCert, mtls, tls, untrustedCa } from './security.js';
import { parallelWriters, sendLarge, sendOne, sendThousand } from './send.js';
import { writeTimeoutNoOverlap } from './timeout.js';

export {
  badCredentials,
  connectCloseIdempotent,
  expiredCert,
  metricsMatchDelivery,
  mtls,
  networkBandwidth,
  networkLatency,
  networkResetPeer,
  networkTimeout,
  parallelWriters,
  peerDownThenUp,
  peerKilled,
  peerRestart,
  poisonAfterSend,
  poisonToDeadLetter,
  sendLarge,
  sendOne,
  sendThousand,
  tls,
  untrustedCa,
  writeTimeoutNoOverlap,
};
export { drained, ingestSteadily } from './resilience.js';
export { watchWrites, type WriteWatch } from './timeout.js';

/** Every scenario of the suite, in the order `describeConnector` runs them. */
export const ALL_SCENARIOS: readonly Scenario[] = [
  connectCloseIdempotent,
  sendOne,
  sendThousand,
  sendLarge,
  parallelWriters,
  tls,
  mtls,
  badCredentials,
  untrustedCa,
  expiredCert,
  poisonToDeadLetter,
  poisonAfterSend,
  metricsMatchDelivery,
  networkLatency,
  networkBandwidth,
  networkTimeout,
  networkResetPeer,
  writeTimeoutNoOverlap,
  peerRestart,
  peerKilled,
  peerDownThenUp,
];
