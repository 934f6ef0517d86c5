import http, { httpConfigSchema } from '@bifrost/connector-http';
import { startHttpReceiver } from '@bifrost/connector-testkit/peers';
import { makePoints, pipelineThroughput } from '@bifrost/connector-testkit/bench';
const rx = await startHttpReceiver({});
const N = 200_000;
for (let i = 0; i < Number(process.env.R ?? 4); i++) {
  const r = await pipelineThroughput({
    definition: http,
    config: httpConfigSchema.parse({ endpoint: rx.url, connections: 8 }),
    points: makePoints(N),
    delivery: { batchSize: 1000, maxInFlight: 8, flushIntervalMs: 5 },
  });
  console.log(Math.round(r));
  await rx.reset();
}
await rx.dispose();
