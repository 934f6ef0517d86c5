// Node's TLS, HTTPS and HTTP/2 modules are about 2.9 MB of an idle gateway's memory (eight
// alternating idle runs of `bifrost run` each: 74.1 MB with them, 71.2 MB without), yet a gateway
// whose API is plain HTTP and whose connectors do not use TLS never touches them. Two dependencies
// require them when they load, for features used only on demand: fastify's server module (it
// creates an HTTPS or HTTP/2 server only when given `https` or `http2` options) and prom-client's
// Pushgateway (which pushes metrics, which the gateway never does). A module hook hands those two
// files a stand-in that loads the real module the first time one of its properties is read, so a
// gateway with an HTTPS API, or a connector with TLS, loads them then. Nothing else is affected: an
// `import` or `require` of these modules from any other file gets the real module.
import type * as NodeModule from 'node:module';
import type { LoadHookSync, ResolveHookSync } from 'node:module';

/** Builtins deferred for the file that requires them, by the end of that file's URL. */
const DEFERRED: ReadonlyArray<readonly [requiredFrom: string, specifiers: readonly string[]]> = [
  ['/fastify/lib/server.js', ['node:https', 'node:http2']],
  ['/prom-client/lib/pushgateway.js', ['https']],
];

/** The URL scheme of a stand-in; what follows it is the builtin's specifier. */
const STAND_IN = 'bifrost-deferred-builtin:';

const resolve: ResolveHookSync = (specifier, context, next) => {
  const parent = context.parentURL;
  if (parent !== undefined) {
    for (const [requiredFrom, specifiers] of DEFERRED) {
      if (specifiers.includes(specifier) && parent.endsWith(requiredFrom)) {
        return { url: STAND_IN + specifier, format: 'commonjs', shortCircuit: true };
      }
    }
  }
  return next(specifier, context);
};

const load: LoadHookSync = (url, context, next) => {
  if (!url.startsWith(STAND_IN)) return next(url, context);
  const builtin = JSON.stringify(url.slice(STAND_IN.length));
  // The modules' functions use no `this`, so handing them out unbound is what the real module does.
  const source = `let real;
const builtin = () => (real ??= process.getBuiltinModule(${builtin}));
module.exports = new Proxy({}, { get: (_, key) => builtin()[key], has: (_, key) => key in builtin() });`;
  return { format: 'commonjs', source, shortCircuit: true };
};

/**
 * Defers the builtins in {@link DEFERRED} for the files listed there. Called by the `bifrost`
 * command before anything else is imported; false (and nothing deferred) on a Node without
 * `module.registerHooks` (before 22.15), where only memory is at stake. Node 22.15's hooks do not
 * see a `require` of a builtin, so there the modules load as before (Node 22.23 and 24 defer them).
 */
export function deferUnusedBuiltins(): boolean {
  const { registerHooks } = process.getBuiltinModule('node:module') as Partial<typeof NodeModule>;
  if (typeof registerHooks !== 'function') return false;
  registerHooks({ resolve, load });
  return true;
}
