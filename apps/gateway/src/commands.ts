// The `bifrost` commands (loaded by ./cli.ts once the process-wide settings are in place).
import { leaveStartupMode } from './runtime-flags.js';
import { existsSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { ConnectorDefinition, Logger, SourceDefinition } from '@bifrost/core';
import {
  checkQueueFile,
  DEFAULT_DELIVERY_OPTIONS,
  probeConnector,
  readMarker,
  salvageMessage,
  salvageQueueFile,
  secretPaths,
  type DeadLetterFilter,
} from '@bifrost/core/host';
import { deliveryOptions } from './config/host-settings.js';
import { connectorTls } from './config/tls-files.js';
import { hostFileChecks } from './config/file-checks.js';
import { formatIssues, type ConfigIssue } from './config/issues.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import type { GatewayConfig } from './config/schema.js';
import { configuredQueueFile, GATEWAY_VERSION, openConfiguredQueue, startGateway } from './gateway.js';
import { connectorStarter, DEFAULT_CONFIG_FILE, embeddedStarter, NoConfigError, resolveConfigPath } from './init.js';
import { discoverPlugins, findByType, missingPluginHint } from './plugins/discovery.js';
import { isApiCompatible, loadPlugin } from './plugins/load.js';
import { resolvePlugins } from './plugins/resolve.js';
import { routingChecks } from './routing.js';
import { exitQuietlyOnClosedStdout } from './stdout-pipe.js';

const DEFAULT_CONFIG = `./${DEFAULT_CONFIG_FILE}`;

exitQuietlyOnClosedStdout();

/** Plugins' log lines during a connection test: the result line says what matters. */
const silentPluginLogger: Logger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentPluginLogger,
};

/** `-c` as given, else ./bifrost.yaml (inside this repository: examples/gateway.yaml); else says what to do. */
function configPath(given: string | undefined): string {
  try {
    return resolveConfigPath(given);
  } catch (err) {
    if (err instanceof NoConfigError) fail(`[bifrost] ${err.message}`);
    throw err;
  }
}

/** Loads a config and checks everything `run` would: schema, plugins and their schemas, routing. */
async function checkConfig(file: string): Promise<LoadedConfig & { warnings: ConfigIssue[] }> {
  const loaded = loadConfigFile(file);
  const warnings: ConfigIssue[] = [];
  if (loaded.config && !loaded.issues.length) {
    const withConfig = loaded as LoadedConfig & { config: GatewayConfig };
    const resolved = await resolvePlugins(withConfig);
    warnings.push(...resolved.warnings);
    loaded.issues.push(
      ...resolved.issues,
      ...routingChecks(withConfig, resolved.issues),
      ...(await hostFileChecks(withConfig)),
    );
  }
  loaded.issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { ...loaded, warnings };
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const program = new Command()
  .name('bifrost')
  .description('Bifrost edge gateway: delivers every sensor reading to MQTT brokers, cloud platforms and databases')
  .version(GATEWAY_VERSION);

program
  .command('init')
  .description(
    `write a commented starter config (default ${DEFAULT_CONFIG}): simulated devices -> built-in MQTT broker`,
  )
  .argument('[file]', 'where to write it', DEFAULT_CONFIG_FILE)
  .option(
    '--connector <type>',
    "start from an installed connector type instead, its provider_config from the plugin's schema",
  )
  .option('-f, --force', 'overwrite an existing file')
  .action(async (fileArg: string, opts: { connector?: string; force?: boolean }) => {
    const file = resolve(fileArg);
    if (existsSync(file) && !opts.force) fail(`[bifrost] ${fileArg} exists; use --force to overwrite it`);
    let text: string;
    if (opts.connector) {
      const found = discoverPlugins([resolve(file, '..'), process.cwd()]);
      const plugin = findByType(found, 'connector', opts.connector);
      if (!plugin) {
        fail(
          `[bifrost] no connector plugin of type "${opts.connector}" is installed; ${missingPluginHint('connector', opts.connector)}` +
            (found.some((p) => p.role === 'connector')
              ? `\ninstalled connector types: ${[...new Set(found.filter((p) => p.role === 'connector').map((p) => p.type))].join(', ')}`
              : ''),
        );
      }
      const def = await loadPlugin(plugin, 'connector');
      text = connectorStarter(def, plugin.name, secretPaths(def.configSchema));
    } else {
      text = embeddedStarter();
    }
    writeFileSync(file, text, { flag: opts.force ? 'w' : 'wx' });
    const shown = relative(process.cwd(), file) || file;
    const c = shown === DEFAULT_CONFIG_FILE ? '' : ` -c ${shown}`;
    process.stdout.write(
      `wrote ${shown}\nnext: npx bifrost validate${c}   then   npx bifrost run${c}${opts.connector ? '' : "   and watch: mosquitto_sub -p 1883 -t 'bifrost/#' -v"}\n`,
    );
  });

program
  .command('run')
  .description('run the gateway')
  .option('-c, --config <file>', `config file (default ${DEFAULT_CONFIG}; write one with bifrost init)`)
  .action(async (opts: { config?: string }) => {
    const file = configPath(opts.config);
    const loaded = loadConfigFile(file);
    if (loaded.issues.length)
      fail(`[bifrost] invalid config (${loaded.issues.length} problem(s)):\n${formatIssues(loaded.issues, file)}`);
    let gateway;
    try {
      gateway = await startGateway(loaded);
    } catch (err) {
      fail(loaded.secrets.redactText((err as Error).message));
    }
    leaveStartupMode();
    let signals = 0;
    const shutdown = (signal: string) => {
      if (++signals > 1) {
        gateway.logger.warn(`${signal} again: exiting without waiting (queued points stay on disk)`);
        process.exit(1);
      }
      gateway.logger.info(`${signal}: shutting down (stopping sources, draining in-flight batches)`);
      gateway.stop().then(
        () => {
          gateway.logger.info('stopped');
          gateway.logger.flush(() => process.exit(0));
        },
        (err: unknown) => {
          gateway.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });

program
  .command('validate')
  .description('check a config file: every problem with its YAML path and line; exits 1 if any')
  .option('-c, --config <file>', `config file (default ${DEFAULT_CONFIG}; write one with bifrost init)`)
  .action(async (opts: { config?: string }) => {
    const file = configPath(opts.config);
    const loaded = await checkConfig(file);
    if (loaded.issues.length)
      fail(`${formatIssues(loaded.issues, file)}\n${loaded.issues.length} problem(s) in ${file}`);
    if (loaded.warnings.length)
      process.stderr.write(`${formatIssues(loaded.warnings, file).replace(/^/gm, 'warning: ')}\n`);
    const cfg = loaded.config!;
    const enabled = Object.values(cfg.cloud.connectors).filter((c) => c.enabled).length;
    process.stdout.write(
      `${file}: OK (${enabled} connector(s) enabled, ${Object.keys(cfg.sources).length} source(s), ${cfg.cloud.routing_rules.length} routing rule(s))\n`,
    );
  });

program
  .command('plugins')
  .description('list installed plugins with versions and types')
  .option('-c, --config <file>', 'also search node_modules above this config file')
  .action((opts: { config?: string }) => {
    const found = discoverPlugins(opts.config ? [resolve(opts.config, '..')] : [process.cwd()]);
    if (!found.length) {
      process.stdout.write('no bifrost plugins found (install e.g. @bifrost/connector-mqtt)\n');
      return;
    }
    const rows = [
      ['ROLE', 'TYPE', 'PACKAGE', 'VERSION', 'API', 'FROM'],
      ...found.map((p) => [
        p.role,
        p.type,
        p.name,
        p.version,
        `${p.api}${isApiCompatible(p) ? '' : ' (incompatible)'}`,
        `${p.origin} ${p.dir}`,
      ]),
    ];
    const [header = []] = rows;
    const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
    for (const r of rows)
      process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`);
  });

program
  .command('schema')
  .description('print the JSON Schema of the config file (installed plugin schemas included)')
  .action(async () => {
    const found = discoverPlugins([process.cwd()]).filter(isApiCompatible);
    const connectors: ConnectorDefinition[] = [];
    const sources: SourceDefinition[] = [];
    for (const p of found) {
      try {
        if (p.role === 'connector') connectors.push(await loadPlugin(p, 'connector'));
        else sources.push(await loadPlugin(p, 'source'));
      } catch (err) {
        process.stderr.write(`skipping ${p.name}: ${(err as Error).message}\n`);
      }
    }
    // Loaded here only: `run` does not need the JSON Schema converter.
    const { configJsonSchema } = await import('./config/json-schema.js');
    process.stdout.write(`${JSON.stringify(configJsonSchema({ connectors, sources }), null, 2)}\n`);
  });

const connectorOption = new Option('--connector <name>', 'only this connector');
const dlq = program
  .command('dlq')
  .description('dead letters in the queue of a config (run while the gateway is stopped, or use the REST API)');

async function withQueue<T>(
  file: string | undefined,
  fn: (q: Awaited<ReturnType<typeof openConfiguredQueue>>['queue']) => Promise<T>,
): Promise<T> {
  const path = configPath(file);
  const loaded = loadConfigFile(path);
  if (!loaded.config || loaded.issues.length) fail(formatIssues(loaded.issues, path));
  let queue: Awaited<ReturnType<typeof openConfiguredQueue>>['queue'];
  try {
    ({ queue } = await openConfiguredQueue(loaded.config, loaded.baseDir));
  } catch (err) {
    const inUse = /in use by another process/.test((err as Error).message);
    fail(
      `${(err as Error).message}${inUse ? '\nThe gateway is running: use the REST API instead (GET /api/cloud/deadletters, POST /api/cloud/deadletters/replay|purge).' : ''}`,
    );
  }
  try {
    return await fn(queue);
  } finally {
    await queue.close();
  }
}

function filterOf(opts: { connector?: string; seq?: string[] }): DeadLetterFilter {
  const f: DeadLetterFilter = {};
  if (opts.connector) f.connector = opts.connector;
  if (opts.seq?.length) f.seqs = opts.seq.map(Number);
  return f;
}

dlq
  .command('list')
  .description('list dead letters')
  .option('-c, --config <file>', 'config file')
  .addOption(connectorOption)
  .option('--limit <n>', 'at most this many', '100')
  .option('--json', 'one JSON object per line')
  .action(async (opts: { config?: string; connector?: string; limit: string; json?: boolean }) => {
    await withQueue(opts.config, async (q) => {
      const list = await q.listDeadLetters({ ...filterOf(opts), limit: Number(opts.limit) });
      for (const d of list) {
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(d)}\n`
            : `${d.seq}\t${new Date(d.time).toISOString()}\t${d.connector}\t${d.code}\t${d.point.deviceId}/${d.point.tagName}\t${d.reason}\n`,
        );
      }
      if (!opts.json) process.stdout.write(`${list.length} dead letter(s)\n`);
    });
  });

dlq
  .command('replay')
  .description('move dead letters back into their connector queue')
  .option('-c, --config <file>', 'config file')
  .addOption(connectorOption)
  .option('--seq <seq...>', 'only these dead-letter numbers')
  .action(async (opts: { config?: string; connector?: string; seq?: string[] }) => {
    await withQueue(opts.config, async (q) =>
      process.stdout.write(`${await q.replayDeadLetters(filterOf(opts))} dead letter(s) replayed\n`),
    );
  });

dlq
  .command('purge')
  .description('delete dead letters')
  .option('-c, --config <file>', 'config file')
  .addOption(connectorOption)
  .option('--seq <seq...>', 'only these dead-letter numbers')
  .action(async (opts: { config?: string; connector?: string; seq?: string[] }) => {
    await withQueue(opts.config, async (q) =>
      process.stdout.write(`${await q.purgeDeadLetters(filterOf(opts))} dead letter(s) purged\n`),
    );
  });

const queueCommand = program
  .command('queue')
  .description(
    'check, salvage or acknowledge damage in the queue file of a config (run while the gateway is stopped, or use the REST API)',
  );

/** The queue file of a config; fails for a memory-only queue. */
function queueFileOf(given: string | undefined): string {
  const path = configPath(given);
  const loaded = loadConfigFile(path);
  if (!loaded.config || loaded.issues.length) fail(formatIssues(loaded.issues, path));
  const file = configuredQueueFile(loaded.config, loaded.baseDir);
  if (!file) fail(`[bifrost] ${path}: the queue is memory only (queue.memory_only: true): there is no queue file`);
  return file;
}

const inUseHint = (err: unknown) =>
  `${(err as Error).message}${/in use by another process|locked|busy/i.test(String(err)) ? '\nThe gateway is running: stop it first, or use the REST API (GET /api/cloud/queue/integrity, POST /api/cloud/queue/acknowledge).' : ''}`;

queueCommand
  .command('check')
  .description(
    "check the queue file without changing it: SQLite's integrity check, every chunk's checksum, unacknowledged incidents; exits 1 when something needs attention",
  )
  .option('-c, --config <file>', 'config file')
  .option('--json', 'the report as JSON')
  .action((opts: { config?: string; json?: boolean }) => {
    const file = queueFileOf(opts.config);
    let r;
    try {
      r = checkQueueFile(file);
    } catch (err) {
      fail(inUseHint(err));
    }
    if (opts.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else {
      const lines = [
        `queue file: ${r.file}${r.exists ? '' : ' (missing)'}${r.marker ? '' : ' (no marker: never opened by this build)'}`,
        `layout: ${r.layout ?? 'unknown'}`,
        `SQLite integrity check: ${r.sqliteProblems.length ? r.sqliteProblems.join('; ') : 'ok'}`,
        `chunks with a good checksum: ${r.chunks} (${r.points} points queued)`,
        `damaged chunks: ${r.damagedChunks} (${r.damagedPoints} points); unreadable rows: ${r.unreadableRows}`,
        `unacknowledged incidents: ${r.incidents.length}`,
        ...r.incidents.map((i) => `  ${new Date(i.time).toISOString()} ${i.kind}: ${i.message}`),
        r.ok
          ? 'ok'
          : 'needs attention: `bifrost queue salvage` copies what is readable into a new file (a start does so by itself when SQLite finds damage); `bifrost queue acknowledge` clears the incidents',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    process.exitCode = r.ok ? 0 : 1;
  });

queueCommand
  .command('salvage')
  .description(
    'copy whatever can be read of the queue file, row by row, into a new file; the old one is kept beside it as <file>.corrupt-<time>',
  )
  .option('-c, --config <file>', 'config file')
  .action((opts: { config?: string }) => {
    const file = queueFileOf(opts.config);
    if (!existsSync(file)) fail(`[bifrost] ${file} does not exist: nothing to salvage`);
    const marker = readMarker(file);
    try {
      const report = salvageQueueFile(
        file,
        'salvage asked for by an operator',
        marker?.cleanClose ? marker.points : null,
      );
      process.stdout.write(`${salvageMessage(report)}\n`);
    } catch (err) {
      fail(inUseHint(err));
    }
  });

queueCommand
  .command('acknowledge')
  .description('acknowledge every integrity incident of the queue file: health is no longer degraded by them')
  .option('-c, --config <file>', 'config file')
  .action(async (opts: { config?: string }) => {
    await withQueue(opts.config, async (q) =>
      process.stdout.write(`${await q.acknowledgeIntegrity()} incident(s) acknowledged\n`),
    );
  });

program
  .command('test-connection')
  .description(
    'connect to each enabled connector (or the one named), run its health probe and close; exits 1 if any fails',
  )
  .option('-c, --config <file>', `config file (default ${DEFAULT_CONFIG})`)
  .argument('[name]', 'only this connector')
  .action(async (name: string | undefined, opts: { config?: string }) => {
    const file = configPath(opts.config);
    const loaded = loadConfigFile(file);
    if (loaded.issues.length || !loaded.config)
      fail(`${formatIssues(loaded.issues, file)}\n(run bifrost validate -c ${file})`);
    const withConfig = loaded as LoadedConfig & { config: GatewayConfig };
    const resolved = await resolvePlugins(withConfig);
    const chosen = resolved.connectors.filter((c) => name === undefined || c.name === name);
    if (!chosen.length)
      fail(name ? `no enabled connector named "${name}" in ${file}` : `no enabled connector in ${file}`);
    let failed = 0;
    for (const c of chosen) {
      const unresolved = resolved.issues.find((i) => i.path.includes(`.connectors.${c.name}.`));
      if (unresolved) fail(formatIssues([unresolved], file));
      const result = await probeConnector(c.definition, c.config, {
        name: c.name,
        logger: silentPluginLogger,
        tls: await connectorTls(c.entry, loaded.baseDir),
        timeoutMs: deliveryOptions(withConfig.config, c.entry).timeoutMs ?? DEFAULT_DELIVERY_OPTIONS.timeoutMs,
      });
      if (!result.ok) failed++;
      const what = result.ok
        ? `OK in ${result.durationMs} ms${result.detail ? ` (${result.detail})` : ''}`
        : `FAILED after ${result.durationMs} ms: ${result.error ? `${result.error.kind} ${result.error.code}: ${result.error.message}` : (result.detail ?? 'unhealthy')}`;
      process.stdout.write(`${c.name} (${c.definition.type}): ${loaded.secrets.redactText(what)}\n`);
    }
    if (failed) process.exit(1);
  });

program
  .command('breaker')
  .description("operate on a running gateway's circuit breakers (through its REST API)")
  .command('reset')
  .description('close an open circuit breaker of a running gateway now, so the connector delivers at once')
  .argument('<name>', 'connector name')
  .option(
    '-c, --config <file>',
    `config of the running gateway, for its API address and token (default ${DEFAULT_CONFIG})`,
  )
  .action(async (name: string, opts: { config?: string }) => {
    const file = configPath(opts.config);
    const loaded = loadConfigFile(file);
    if (loaded.issues.length || !loaded.config) fail(formatIssues(loaded.issues, file));
    const { api, port } = loaded.config;
    const host = api.host === '0.0.0.0' || api.host === '::' ? '127.0.0.1' : api.host;
    const url = `${api.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${api.port ?? port}/api/cloud/connectors/${encodeURIComponent(name)}/breaker/reset`;
    const res = await fetch(url, {
      method: 'POST',
      headers: api.token ? { authorization: `Bearer ${api.token}` } : {},
    }).catch((err: unknown) => fail(`cannot reach the gateway at ${url}: ${(err as Error).message}`));
    const body = (await res.json().catch(() => ({}))) as { reset?: boolean; breaker?: string; message?: string };
    if (!res.ok) fail(`${res.status}: ${body.message ?? res.statusText}`);
    process.stdout.write(
      body.reset
        ? `${name}: breaker reset, now ${body.breaker}\n`
        : `${name}: breaker was not open (${body.breaker})\n`,
    );
  });

await program
  .parseAsync()
  .catch((err: unknown) => fail(`[bifrost] ${(err as Error).message.replace(/^\[bifrost\] /, '')}`));
