import { integrationConfig } from '../../tooling/vitest.shared.js';

export default integrationConfig();
