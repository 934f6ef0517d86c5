import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import kafkajs from 'kafkajs';
import { ConfigError } from '@bifrost/core';
import type { Compression } from './config.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

type CodecFactory = () => unknown;

/** A CommonJS package seen through `import()`: its exports under `default`, or on the namespace itself. */
function exportsOf<T>(mod: unknown): T {
  return ((mod as { default?: T }).default ?? mod) as T;
}

/** Optional codec packages and how each exposes its kafkajs codec factory. */
const OPTIONAL_CODECS: Record<
  'snappy' | 'lz4' | 'zstd',
  { pkg: string; type: number; factory: (mod: unknown) => CodecFactory }
> = {
  snappy: { pkg: 'kafkajs-snappy', type: CompressionTypes.Snappy, factory: (mod) => exportsOf<CodecFactory>(mod) },
  lz4: {
    pkg: 'kafkajs-lz4',
    type: CompressionTypes.LZ4,
    factory: (mod) => new (exportsOf<new () => { codec: CodecFactory }>(mod))().codec,
  },
  zstd: {
    pkg: '@kafkajs/zstd',
    type: CompressionTypes.ZSTD,
    factory: (mod) => {
      type ZstdModule = { ZstdCodec?: () => CodecFactory };
      const zstdCodec = (mod as ZstdModule).ZstdCodec ?? (mod as { default?: ZstdModule }).default?.ZstdCodec;
      if (!zstdCodec) throw new TypeError('@kafkajs/zstd exports no ZstdCodec');
      return zstdCodec();
    },
  },
};

/** kafkajs ships placeholders for snappy, lz4 and zstd that throw "not implemented" when called. */
function isRegistered(factory: (() => unknown) | undefined): boolean {
  try {
    return Boolean(factory?.());
  } catch {
    return false;
  }
}

/**
 * Imports an optional package from this connector's dependencies, else from the running app's
 * (with pnpm's strict layout a package the app installed is not visible from here).
 */
async function importBesideApp(pkg: string): Promise<unknown> {
  try {
    return await import(pkg);
  } catch {
    const resolved = createRequire(join(process.cwd(), 'package.json')).resolve(pkg);
    return import(pathToFileURL(resolved).href);
  }
}

/** kafkajs's compression type number for a config value. */
export function compressionType(c: Compression): number {
  switch (c) {
    case 'none':
      return CompressionTypes.None;
    case 'gzip':
      return CompressionTypes.GZIP;
    case 'snappy':
      return CompressionTypes.Snappy;
    case 'lz4':
      return CompressionTypes.LZ4;
    case 'zstd':
      return CompressionTypes.ZSTD;
  }
}

/**
 * Makes sure kafkajs can compress with `c`: gzip is built in; snappy, lz4 and zstd are registered
 * from their codec package, or a ConfigError names the package to install.
 */
export async function ensureCodec(c: Compression): Promise<void> {
  if (c === 'none' || c === 'gzip') return;
  const { pkg, type, factory } = OPTIONAL_CODECS[c];
  const codecs = CompressionCodecs as Record<number, () => unknown>;
  if (isRegistered(codecs[type])) return;
  let mod: unknown;
  try {
    mod = await importBesideApp(pkg);
  } catch (err) {
    throw new ConfigError(
      `compression: ${c} needs the codec package "${pkg}"; install it beside the connector (npm install ${pkg}) or choose gzip`,
      {
        code: 'BIFROST_ERR_KAFKA_CODEC_MISSING',
        cause: err,
      },
    );
  }
  codecs[type] = factory(mod);
}
