import type { ConnectorDefinition, SourceDefinition } from '@bifrost/core';
import { batchSizeWarning, secretPaths } from '@bifrost/core/host';
import { deliveryOptions } from '../config/host-settings.js';
import type { ConfigIssue, PathSegment } from '../config/issues.js';
import { formatPath, zodIssuesToConfigIssues } from '../config/issues.js';
import type { LoadedConfig } from '../config/load.js';
import { registerSecrets } from '../config/secrets.js';
import type { ConnectorEntry, GatewayConfig, SourceEntry } from '../config/schema.js';
import {
  missingPluginHint,
  discoverPlugins,
  findByType,
  findExplicit,
  type PluginPackage,
  type PluginRole,
} from './discovery.js';
import { loadPlugin } from './load.js';

/** A connector instance whose plugin was found, loaded and whose settings passed the plugin's schema. */
export interface ResolvedConnector {
  name: string;
  entry: ConnectorEntry;
  plugin: PluginPackage;
  definition: ConnectorDefinition;
  /** Output of the plugin's `configSchema`. */
  config: unknown;
}

export interface ResolvedSource {
  name: string;
  entry: SourceEntry;
  plugin: PluginPackage;
  definition: SourceDefinition;
  config: unknown;
}

export interface ResolvedPlugins {
  connectors: ResolvedConnector[];
  sources: ResolvedSource[];
  issues: ConfigIssue[];
  /** Settings that work but not as written (a `batch_size` above a connector's largest batch). */
  warnings: ConfigIssue[];
}

/** Value of `endpoint: embedded`: the connector publishes to the gateway's embedded broker. */
export const EMBEDDED_ENDPOINT = 'embedded';

/** Keys of a source entry handled by the host; the rest goes to the source plugin. */
const SOURCE_HOST_KEYS = new Set(['type', 'plugin', 'enabled', 'priority']);

/**
 * `{ endpoint, ...provider_config }`: what a connector plugin's schema validates. A key the plugin
 * declares as an endpoint alias (MQTT's `broker`) wins over `endpoint` and is passed as `endpoint`;
 * a list (Kafka's `brokers`) is joined with commas. `embedded` names the gateway's embedded broker.
 */
export function connectorPluginInput(
  entry: ConnectorEntry,
  embeddedUrl?: string,
  endpointAliases: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...entry.provider_config };
  let endpoint: unknown = entry.endpoint;
  for (const alias of endpointAliases) {
    if (out[alias] === undefined) continue;
    endpoint = Array.isArray(out[alias]) ? (out[alias] as unknown[]).join(',') : out[alias];
    delete out[alias];
    break;
  }
  if (endpoint === EMBEDDED_ENDPOINT && embeddedUrl) endpoint = embeddedUrl;
  if (endpoint !== undefined) out.endpoint = endpoint;
  return out;
}

function sourcePluginInput(entry: SourceEntry): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entry).filter(([k]) => !SOURCE_HOST_KEYS.has(k)));
}

async function findAndLoad<R extends PluginRole>(
  role: R,
  type: string,
  spec: string | undefined,
  found: PluginPackage[],
  baseDir: string,
): Promise<{ plugin: PluginPackage; definition: R extends 'connector' ? ConnectorDefinition : SourceDefinition }> {
  const plugin = spec ? findExplicit(found, spec, baseDir) : findByType(found, role, type);
  if (!plugin) {
    throw new Error(`no ${role} plugin for type "${type}" is installed; ${missingPluginHint(role, type)}`);
  }
  const definition = await loadPlugin(plugin, role);
  return { plugin, definition: definition };
}

/**
 * Finds, loads and validates the plugins of every enabled connector and source. Collects every
 * problem as a config issue with its YAML path and line instead of stopping at the first.
 */
export async function resolvePlugins(
  loaded: LoadedConfig & { config: GatewayConfig },
  opts: { embeddedUrl?: string; found?: PluginPackage[] } = {},
): Promise<ResolvedPlugins> {
  const cfg = loaded.config;
  const found = opts.found ?? discoverPlugins([loaded.baseDir]);
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const connectors: ResolvedConnector[] = [];
  const sources: ResolvedSource[] = [];
  const at = (path: PathSegment[], message: string) =>
    issues.push({ path: formatPath(path), line: loaded.locator.lineOf(path), message });

  for (const [name, entry] of Object.entries(cfg.cloud.connectors)) {
    if (!entry.enabled) continue;
    const base: PathSegment[] = ['gateway', 'cloud', 'connectors', name];
    try {
      const { plugin, definition } = await findAndLoad('connector', entry.type, entry.plugin, found, loaded.baseDir);
      const input = connectorPluginInput(entry, opts.embeddedUrl ?? embeddedUrlOf(cfg), definition.endpointAliases);
      // Fields the plugin marks with secret(): redacted by key everywhere, and their values in any text.
      registerSecrets(loaded.secrets, secretPaths(definition.configSchema), input);
      const parsed = definition.configSchema.safeParse(input);
      if (!parsed.success) {
        const alias = definition.endpointAliases.find((a) => entry.provider_config?.[a] !== undefined);
        const endpointAt = alias ? ['provider_config', alias] : ['endpoint'];
        issues.push(
          ...zodIssuesToConfigIssues(parsed.error.issues, base, loaded.locator, (p) =>
            p[0] === 'endpoint' ? [...endpointAt, ...p.slice(1)] : ['provider_config', ...p],
          ),
        );
        continue;
      }
      connectors.push({ name, entry, plugin, definition, config: parsed.data });
      const batchWarning = batchSizeWarning(deliveryOptions(cfg, entry).batchSize, definition.capabilities);
      if (batchWarning) {
        const path = entry.batch_size !== undefined ? [...base, 'batch_size'] : ['gateway', 'cloud', 'batch_size'];
        warnings.push({ path: formatPath(path), line: loaded.locator.lineOf(path), message: batchWarning });
      }
    } catch (err) {
      at(
        [...base, entry.plugin ? 'plugin' : 'type'],
        loaded.secrets.redactText((err as Error).message.replace(/^\[bifrost\] /, '')),
      );
    }
  }

  for (const [name, entry] of Object.entries(cfg.sources)) {
    if (!entry.enabled) continue;
    const base: PathSegment[] = ['gateway', 'sources', name];
    try {
      const { plugin, definition } = await findAndLoad('source', entry.type, entry.plugin, found, loaded.baseDir);
      const input = sourcePluginInput(entry);
      registerSecrets(loaded.secrets, secretPaths(definition.configSchema), input);
      const parsed = definition.configSchema.safeParse(input);
      if (!parsed.success) {
        issues.push(...zodIssuesToConfigIssues(parsed.error.issues, base, loaded.locator));
        continue;
      }
      sources.push({ name, entry, plugin, definition, config: parsed.data });
    } catch (err) {
      at(
        [...base, entry.plugin ? 'plugin' : 'type'],
        loaded.secrets.redactText((err as Error).message.replace(/^\[bifrost\] /, '')),
      );
    }
  }

  issues.push(...checkReferences(cfg, loaded));
  return { connectors, sources, issues, warnings };
}

/** URL of the embedded broker as configured (port 0 is replaced by the real port at run time). */
export function embeddedUrlOf(cfg: GatewayConfig, actualPort?: number): string | undefined {
  const b = cfg.embedded_broker;
  if (!b.enabled) return undefined;
  return `mqtt://${b.host.includes(':') ? `[${b.host}]` : b.host}:${actualPort ?? (b.port || 1883)}`;
}

/** Routing rules and `default_connector` must name configured connectors. */
function checkReferences(cfg: GatewayConfig, loaded: LoadedConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Set(Object.keys(cfg.cloud.connectors));
  const check = (name: string, path: PathSegment[]) => {
    if (!names.has(name)) {
      issues.push({
        path: formatPath(path),
        line: loaded.locator.lineOf(path),
        message: `unknown connector "${name}" (configured: ${[...names].join(', ') || 'none'})`,
      });
    }
  };
  if (cfg.cloud.default_connector !== undefined)
    check(cfg.cloud.default_connector, ['gateway', 'cloud', 'default_connector']);
  cfg.cloud.routing_rules.forEach((r, i) =>
    r.connectors.forEach((c, j) => check(c, ['gateway', 'cloud', 'routing_rules', i, 'connectors', j])),
  );
  if (cfg.embedded_broker.enabled === false) {
    for (const [name, c] of Object.entries(cfg.cloud.connectors)) {
      if (c.enabled && c.endpoint === EMBEDDED_ENDPOINT) {
        const path = ['gateway', 'cloud', 'connectors', name, 'endpoint'];
        issues.push({
          path: formatPath(path),
          line: loaded.locator.lineOf(path),
          message: 'endpoint "embedded" needs embedded_broker.enabled: true',
        });
      }
    }
  }
  return issues;
}
