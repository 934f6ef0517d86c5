import { afterAll, beforeAll } from 'vitest';
import { requirePeer, startToxiproxy, toxiproxyBinary, toxiproxyFaultProxy, type FaultProxyFactory, type ToxiproxyPeer } from '@bifrost/connector-testkit';

/**
 * A Toxiproxy server for this test file's network-fault scenarios, started before and stopped
 * after the file's suites. Undefined (scenarios skipped, saying so) when Toxiproxy is not
 * installed outside CI; `requirePeer` fails the file in CI.
 */
export function toxiproxyForFile(): FaultProxyFactory | undefined {
  if (!requirePeer('toxiproxy', toxiproxyBinary).available) return undefined;
  let toxi: ToxiproxyPeer | undefined;
  beforeAll(async () => {
    toxi = await startToxiproxy();
  });
  afterAll(async () => {
    await toxi?.dispose();
  });
  return toxiproxyFaultProxy(() => {
    if (!toxi) throw new Error('[test] toxiproxy did not start');
    return toxi;
  });
}
