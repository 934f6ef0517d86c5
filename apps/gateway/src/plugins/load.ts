import { pathToFileURL } from 'node:url';
import { PLUGIN_API_VERSION, type ConnectorDefinition, type SourceDefinition } from '@bifrost/core';
import {
  isApiCompatible as isDefinitionApiCompatible,
  isConnectorDefinition,
  isSourceDefinition,
} from '@bifrost/core/host';
import semver from 'semver';
import { packageEntry, PluginPackageError, type PluginPackage, type PluginRole } from './discovery.js';

/** Thrown when a plugin's `api` range does not include this gateway's plugin API version. */
export class PluginApiMismatchError extends Error {
  readonly code = 'BIFROST_ERR_PLUGIN_API';
  constructor(readonly plugin: PluginPackage) {
    super(
      `[bifrost] plugin ${plugin.name}@${plugin.version} requires plugin API ${plugin.api}, but this gateway provides plugin API ${PLUGIN_API_VERSION}; install a version of ${plugin.name} built for API ${semver.major(PLUGIN_API_VERSION)}`,
    );
    this.name = 'PluginApiMismatchError';
  }
}

/** True when the package's declared `api` range accepts this gateway's plugin API version. */
export function isApiCompatible(plugin: PluginPackage): boolean {
  return semver.validRange(plugin.api) !== null && semver.satisfies(PLUGIN_API_VERSION, plugin.api);
}

export type LoadedDefinition<R extends PluginRole> = R extends 'connector' ? ConnectorDefinition : SourceDefinition;

/**
 * Imports a plugin package and checks it: `api` range against {@link PLUGIN_API_VERSION}, the
 * default export's brand (made by `defineConnector` / `defineSource`), role and type.
 */
export async function loadPlugin<R extends PluginRole>(plugin: PluginPackage, role: R): Promise<LoadedDefinition<R>> {
  if (plugin.role !== role) throw new PluginPackageError(`${plugin.name} is a ${plugin.role} plugin, not a ${role}`);
  if (!isApiCompatible(plugin)) throw new PluginApiMismatchError(plugin);
  const entry = packageEntry(plugin.dir);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  } catch (err) {
    throw new PluginPackageError(
      `cannot load plugin ${plugin.name} from ${entry}: ${(err as Error).message}${(err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' ? ' (is it built?)' : ''}`,
    );
  }
  const def = mod.default;
  const branded = role === 'connector' ? isConnectorDefinition(def) : isSourceDefinition(def);
  if (!branded) {
    throw new PluginPackageError(
      `${plugin.name}: the default export is not made by ${role === 'connector' ? 'defineConnector' : 'defineSource'} from @bifrost/core`,
    );
  }
  const d = def as ConnectorDefinition | SourceDefinition;
  if (!isDefinitionApiCompatible(d.api))
    throw new PluginPackageError(
      `${plugin.name}@${plugin.version} was built with @bifrost/core for plugin API ${String(d.api)}, but this gateway provides plugin API ${PLUGIN_API_VERSION}; rebuild it against @bifrost/core ${semver.major(PLUGIN_API_VERSION)}.x`,
    );
  if (d.type !== plugin.type)
    throw new PluginPackageError(
      `${plugin.name}: package.json declares type "${plugin.type}" but the plugin says "${d.type}"`,
    );
  return d as LoadedDefinition<R>;
}
