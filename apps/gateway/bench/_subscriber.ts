// The independent counting subscriber of the end-to-end benches, on its own thread (its own event
// loop, so the load generator does not delay it): subscribes at QoS 1, counts distinct point ids and
// the ingest-to-delivery latency of each (the point carries its send time, epoch ms). Understands
// Bifrost's MQTT payloads (a point, or an array of points with `json-batch`) and Telegraf's json
// serializer (a metric, or `{ metrics: [...] }` with `layout = "batch"`).
import { parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';

interface Sample {
  id: string;
  sent: number;
}

const { url, topic } = workerData as { url: string; topic: string };
const port = parentPort!;
let seen = new Set<string>();
let latencies: number[] = [];
let duplicates = 0;
let lastAt = 0;
const now = () => performance.timeOrigin + performance.now();

/** The id and send time of every point in one payload, whichever side sent it. */
function samples(payload: unknown, out: Sample[]): void {
  if (Array.isArray(payload)) for (const p of payload) samples(p, out);
  else if (payload && typeof payload === 'object') {
    const o = payload as Record<string, unknown>;
    if (Array.isArray(o.metrics)) samples(o.metrics, out);
    else if (o.fields && typeof o.fields === 'object') {
      const f = o.fields as Record<string, unknown>;
      out.push({ id: String(f.point_id), sent: Number(f.sent) });
    } else out.push({ id: String(o.id), sent: Number(o.value) });
  }
}

const client = mqtt.connect(url, { protocolVersion: 4, clean: true, reconnectPeriod: 200 });
client.on('connect', () => {
  client.subscribe(topic, { qos: 1 }, (err) => port.postMessage({ type: 'ready', error: err?.message }));
});
client.on('message', (_topic, payload) => {
  const t = now();
  const got: Sample[] = [];
  samples(JSON.parse(payload.toString()), got);
  for (const s of got) {
    if (seen.has(s.id)) duplicates++;
    else {
      seen.add(s.id);
      latencies.push(t - s.sent);
    }
  }
  lastAt = t;
});
port.on('message', (m: { type: 'reset' | 'count' | 'report' | 'close' }) => {
  if (m.type === 'reset') {
    seen = new Set();
    latencies = [];
    duplicates = 0;
    lastAt = 0;
    port.postMessage({ type: 'reset' });
  } else if (m.type === 'count') {
    port.postMessage({ type: 'count', count: seen.size, lastAt });
  } else if (m.type === 'report') {
    port.postMessage({ type: 'report', count: seen.size, duplicates, lastAt, latencies });
  } else client.end(true, {}, () => port.close());
});
