import { createRouter, type RouterOptions } from '@bifrost/core/host';
import type { ConfigIssue, PathSegment } from './config/issues.js';
import { formatPath } from './config/issues.js';
import type { LoadedConfig } from './config/load.js';
import type { GatewayConfig } from './config/schema.js';

/**
 * Router options from the config with disabled connectors left out: rules naming only disabled
 * connectors are dropped, and a disabled default connector counts as none.
 */
export function routerOptions(cfg: GatewayConfig): RouterOptions {
  const enabled = Object.entries(cfg.cloud.connectors)
    .filter(([, c]) => c.enabled)
    .map(([n]) => n);
  const on = new Set(enabled);
  const rules = cfg.cloud.routing_rules
    .map((r) => ({ ...r, connectors: r.connectors.filter((c) => on.has(c)) }))
    .filter((r) => r.connectors.length);
  const opts: RouterOptions = { rules, connectors: enabled };
  if (cfg.cloud.default_connector !== undefined && on.has(cfg.cloud.default_connector))
    opts.defaultConnector = cfg.cloud.default_connector;
  return opts;
}

/**
 * Compiles every routing rule on its own so that each bad condition is reported with its path and
 * line. Unknown connector names are reported by the reference check in `resolvePlugins` (`known`
 * issues), so they are not repeated here.
 */
export function routingChecks(
  loaded: LoadedConfig & { config: GatewayConfig },
  known: readonly ConfigIssue[] = [],
): ConfigIssue[] {
  const cfg = loaded.config;
  const names = Object.keys(cfg.cloud.connectors);
  const issues: ConfigIssue[] = [];
  cfg.cloud.routing_rules.forEach((rule, i) => {
    const connectors = rule.connectors.filter((c) => names.includes(c));
    // Unknown names are reported on their own; with every name unknown, the condition is still checked.
    const checked = connectors.length || !rule.connectors.length ? connectors : names.slice(0, 1);
    try {
      createRouter({ rules: [{ ...rule, connectors: checked }], connectors: names });
    } catch (err) {
      const path: PathSegment[] = ['gateway', 'cloud', 'routing_rules', i, 'condition'];
      const p = formatPath(path);
      if (!known.some((k) => k.path === p))
        issues.push({
          path: p,
          line: loaded.locator.lineOf(path),
          message: (err as Error).message.replace(/^\[bifrost\] (\[[^\]]*\] )?/, ''),
        });
    }
  });
  return issues;
}
