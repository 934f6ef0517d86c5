/**
 * A JSON client for the control endpoint of a testkit peer that runs as its own process (the HTTP
 * receiver, the IoT Hub emulator): `call('GET', '/requests?since=3')` resolves the parsed answer and
 * throws, naming the peer, on any non-2xx.
 */
export function controlClient(peer: string, controlUrl: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${controlUrl}${path}`, {
      method,
      ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`[testkit] ${peer} ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
}
