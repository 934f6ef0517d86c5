// The IoT Hub emulator set up for this package's tests: one key device, devices registered by the
// thumbprints of the testkit's client certificates, and a collector that checks each message's
// messageId, content type and properties against the point it carries.
import { createHash, X509Certificate } from 'node:crypto';
import {
  createTlsFixture,
  newDeviceKey,
  startIotHubEmulator,
  type Collector,
  type IotHubEmulatorPeer,
  type IotHubIdentity,
  type IotHubMessage,
  type ReceivedPoint,
  type TlsFixture,
} from '@bifrost/connector-testkit';

export interface Hub {
  hub: IotHubEmulatorPeer;
  tls: TlsFixture;
  device: IotHubIdentity & { key: string };
  /** Registered with the thumbprint of the fixture's client certificate. */
  x509Device: IotHubIdentity;
  /** Registered with the thumbprint of the fixture's expired client certificate. */
  expiredDevice: IotHubIdentity;
}

/** SHA-1 thumbprint of a PEM certificate, as the Azure portal shows it. */
export function thumbprint(pem: string): string {
  return createHash('sha1').update(new X509Certificate(pem).raw).digest('hex').toUpperCase();
}

export async function startHub(): Promise<Hub> {
  const tls = createTlsFixture();
  const device = { deviceId: 'conformance-device', key: newDeviceKey() };
  const x509Device = { deviceId: 'x509-device', thumbprint: thumbprint(tls.client.cert) };
  const expiredDevice = { deviceId: 'expired-device', thumbprint: thumbprint(tls.expiredClient.cert) };
  const hub = await startIotHubEmulator({ tls: tls.serverTls(), devices: [device, x509Device, expiredDevice] });
  return { hub, tls, device, x509Device, expiredDevice };
}

export async function stopHub({ hub, tls }: Hub): Promise<void> {
  await hub.dispose();
  tls.dispose();
}

type WirePoint = Record<string, unknown> & { id: string };

/** Why a point-mode message does not carry what the connector promises, or undefined. */
export function pointMessageProblem(m: IotHubMessage, p: WirePoint): string | undefined {
  const want: Record<string, unknown> = {
    'system.mid': p.id,
    'system.ct': 'application/json',
    'system.ce': 'utf-8',
    'properties.device_id': p.deviceId,
    'properties.tag_name': p.tagName,
    'properties.quality': p.quality,
    'properties.iothub-creation-time-utc': new Date(p.timestamp as number).toISOString(),
  };
  for (const [path, value] of Object.entries(want)) {
    const [part, key] = path.split('.', 2) as ['system' | 'properties', string];
    const got = m[part][key];
    if (got !== value) return `message ${m.seq}: ${path} is ${JSON.stringify(got)}, want ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** Reads the emulator's stored messages from the moment it is opened; point-mode messages are checked property by property. */
export async function collectorOf(hub: IotHubEmulatorPeer): Promise<Collector> {
  let cursor = (await hub.stats()).lastSeq;
  const seen = new Map<string, ReceivedPoint>();
  return {
    async waitFor(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // The emulator is down during the outage scenarios: read what can be read.
        const fresh = await hub.messages(cursor).catch(() => []);
        for (const m of fresh) {
          cursor = Math.max(cursor, m.seq);
          const body = JSON.parse(m.body) as WirePoint | WirePoint[];
          for (const p of Array.isArray(body) ? body : [body]) {
            if (!Array.isArray(body)) {
              const problem = pointMessageProblem(m, p);
              if (problem) throw new Error(`[azure-iot] ${problem}`);
            }
            if (seen.has(p.id)) continue;
            seen.set(p.id, {
              id: p.id,
              value: p.value,
              deviceId: p.deviceId as string,
              tagName: p.tagName as string,
              quality: p.quality as string,
              timestamp: p.timestamp as number,
            });
          }
        }
        const found = new Map(ids.flatMap((id) => (seen.has(id) ? [[id, seen.get(id)!] as const] : [])));
        if (found.size === ids.length || Date.now() > deadline) return found;
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close() {},
  };
}
