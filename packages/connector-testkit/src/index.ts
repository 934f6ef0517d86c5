export * from './conformance/index.js';
export * from './peers/index.js';
export { showPeerLogsOnFailure, type HasLogs } from './peers/vitest-hooks.js';
export * from './docs/index.js';
export { silentLogger } from './logger.js';
export { expectEveryOptionDescribed } from './docs/expect-described.js';
export { expectReadmeOptionsTable } from './docs/expect-readme.js';
export { testRandom } from './random.js';
export { recordProof, type ProofFigures } from './proof.js';
