import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { SecretRegistry } from './config/secrets.js';

function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { code?: unknown; kind?: unknown };
  return {
    type: e.name,
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.kind !== undefined ? { kind: e.kind } : {}),
  };
}

/**
 * The gateway's pino logger: pretty, colored lines in a terminal (pino-pretty), JSON lines
 * otherwise. Every log call passes through `secrets` so passwords and tokens never reach the log,
 * even inside error messages.
 */
export function createLogger(
  level: string,
  secrets: SecretRegistry,
  opts: { pretty?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const options: LoggerOptions = {
    level,
    base: undefined,
    serializers: { err: serializeError },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? secrets.redactText(a) : secrets.redact(a)));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  if (pretty && !opts.destination) {
    // pino-pretty in this thread, loaded only for a terminal: as a pino transport it would run in a
    // worker thread costing ~19 MB of RSS, for the few lines a gateway logs.
    const prettyStream = createRequire(import.meta.url)('pino-pretty') as (o: PrettyOptions) => DestinationStream;
    return pino(
      options,
      prettyStream({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }),
    );
  }
  return opts.destination ? pino(options, opts.destination as DestinationStream) : pino(options);
}
