import { describe, expect, it } from 'vitest';
import { silentLogger } from '@bifrost/connector-testkit';
import { newPointId, type DataPoint, type PluginContext } from '@bifrost/core';
import { AzureIotConnector, azureIotConfigSchema } from '../src/index.js';

/**
 * Opt-in: runs against a real IoT Hub when BIFROST_AZURE_IOT_CONNECTION_STRING holds a device
 * connection string (`HostName=...;DeviceId=...;SharedAccessKey=...`). Watch the messages arrive
 * with `az iot hub monitor-events --hub-name <hub> --device-id <id> --properties all`.
 */
const connectionString = process.env.BIFROST_AZURE_IOT_CONNECTION_STRING;
const reason = 'set BIFROST_AZURE_IOT_CONNECTION_STRING (a device connection string) to run against a real IoT Hub';
if (!connectionString) process.stdout.write(`[azure-iot] skipping the real-hub test: ${reason}\n`);

const ctx = { name: 'real-hub', logger: silentLogger, signal: new AbortController().signal } as PluginContext;
const never = () => ({ signal: new AbortController().signal });

describe.skipIf(!connectionString)(
  `azure-iot on a real IoT Hub${connectionString ? '' : ` (skipped: ${reason})`}`,
  () => {
    it('connects with the key, sends points and a batch acknowledged by the hub, patches the twin', async () => {
      const points = (n: number): DataPoint[] =>
        Array.from({ length: n }, (_, i) => ({
          id: newPointId(),
          deviceId: 'bifrost-test',
          tagName: `tag${i % 3}`,
          value: i,
          quality: 'GOOD',
          timestamp: Date.now(),
        }));
      const single = new AzureIotConnector(
        azureIotConfigSchema.parse({ connection_string: connectionString, twin_update: true, twin_interval: '1h' }),
        ctx,
      );
      const batch = new AzureIotConnector(
        azureIotConfigSchema.parse({ connection_string: connectionString, messages: 'batch' }),
        ctx,
      );
      try {
        await single.connect();
        const receipt = await single.write(points(20), never());
        expect(receipt.bytes).toBeGreaterThan(0);
        await single.flushTwin();
        await single.close();
        await batch.connect();
        expect((await batch.write(points(200), never())).bytes).toBeGreaterThan(0);
      } finally {
        await single.close();
        await batch.close();
      }
    }, 60_000);
  },
);
