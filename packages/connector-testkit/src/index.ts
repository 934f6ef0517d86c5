export * from './conformance/index.js';
export * from './peers/index.js';
export { showPeerLogsOnFailure, type HasLogs } from './peers/vitest-hooks.js';
