import { unitConfig } from '../../tooling/vitest.shared.js';

export default unitConfig();
