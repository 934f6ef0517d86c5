import { randomUUID } from 'node:crypto';
import type { DataPoint, Logger, PointValue } from '@bifrost/core';
import type { AwsIotConfig } from './config.js';
import { SHADOW_LIMITS } from './limits.js';

/** What the shadow reporter needs from the connection. */
export interface ShadowLink {
  logger: Logger;
  /** Publishes at QoS 1; rejects when not connected or refused. */
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topics: readonly string[]): Promise<void>;
}

/** The reporter's counters and state, for health and tests. */
export interface ShadowStatus {
  /** Updates answered on `/update/accepted`. */
  accepted: number;
  /** Updates refused for good (400, 413): their values were dropped. */
  rejected: number;
  /** Updates sent again after a 409 version conflict, a timeout or a transient refusal. */
  retried: number;
  /** Devices with values not yet accepted. */
  pendingDevices: number;
  /** Whether documents are split per device (configured, or because the whole state exceeds 8 KB). */
  perDevice: boolean;
  lastError?: string;
}

/** `/update/rejected` error codes AWS IoT documents (https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html). */
const CONFLICT = 409;
const PERMANENT = new Set([400, 413]);

type Values = Map<string, Map<string, PointValue>>;

/** One shadow document this gateway reports to: the classic/named shadow, or one per device. */
interface Doc {
  /** Shadow name, '' for the classic shadow. */
  name: string;
  /** Latest values not yet accepted, device -> tag -> value. */
  dirty: Values;
  /** Every value ever reported (what the stored document holds), for its size. */
  known: Values;
  pending?: { token: string; values: Values; sentAt: number };
  /** Version from the last accepted update: sent back so a concurrent writer gives a 409. */
  version?: number;
}

/**
 * Reports the latest value of every device's tags to the thing's Device Shadow
 * (`state.reported.<device>.<tag>`, or `state.reported.<tag>` in per-device shadows): coalesced
 * from the written batches, sent every `shadow_interval` as one update per document (only the
 * values changed since the last accepted update; the shadow merges them), succeeded only on
 * `/update/accepted` with its `clientToken`. A 409 (version conflict) or a timeout puts the values
 * back for the next update; 400 and 413 drop them as a payload error. Never in the way of telemetry:
 * it runs on its own timer and only observes the batches.
 */
export class ShadowReporter {
  private readonly docs = new Map<string, Doc>();
  private readonly byToken = new Map<string, Doc>();
  private timer: NodeJS.Timeout | undefined;
  private perDevice: boolean;
  private subscribed = false;
  private readonly counts = { accepted: 0, rejected: 0, retried: 0 };
  private lastError: string | undefined;
  private readonly base: string;

  constructor(
    private readonly config: Pick<AwsIotConfig, 'thing_name' | 'shadow_name' | 'shadow_per_device' | 'shadow_interval'>,
    private readonly link: ShadowLink,
  ) {
    this.perDevice = config.shadow_per_device;
    this.base = `$aws/things/${config.thing_name}/shadow`;
  }

  /** Takes the latest value per device and tag from a batch being written. */
  observe(batch: readonly DataPoint[]): void {
    for (const p of batch) {
      const doc = this.docFor(p.deviceId);
      setValue(doc.dirty, p.deviceId, p.tagName, p.value);
      setValue(doc.known, p.deviceId, p.tagName, p.value);
    }
  }

  /** Starts the periodic updates (idempotent). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.config.shadow_interval);
  }

  /** The connection is (re)established: subscriptions must be renewed unless the session kept them. */
  connected(): void {
    this.subscribed = false;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  status(): ShadowStatus {
    const devices = new Set<string>();
    for (const d of this.docs.values()) {
      for (const dev of d.dirty.keys()) devices.add(dev);
      if (d.pending) for (const dev of d.pending.values.keys()) devices.add(dev);
    }
    return {
      ...this.counts,
      pendingDevices: devices.size,
      perDevice: this.perDevice,
      ...(this.lastError !== undefined && { lastError: this.lastError }),
    };
  }

  /** Handles a message on a shadow response topic; returns false for topics that are not its own. */
  onMessage(topic: string, payload: string): boolean {
    if (!topic.startsWith(this.base)) return false;
    const accepted = topic.endsWith('/update/accepted');
    if (!accepted && !topic.endsWith('/update/rejected')) return true;
    let body: { clientToken?: string; version?: number; code?: number; message?: string };
    try {
      body = JSON.parse(payload) as typeof body;
    } catch {
      return true;
    }
    const doc = body.clientToken === undefined ? undefined : this.byToken.get(body.clientToken);
    if (!doc?.pending || doc.pending.token !== body.clientToken) return true;
    const sent = doc.pending.values;
    this.byToken.delete(doc.pending.token);
    delete doc.pending;
    if (accepted) {
      this.counts.accepted++;
      if (typeof body.version === 'number') doc.version = body.version;
      return true;
    }
    const why = `shadow ${doc.name || '(classic)'} update rejected: ${body.code ?? '?'} ${body.message ?? ''}`.trim();
    if (body.code !== undefined && PERMANENT.has(body.code)) {
      this.counts.rejected++;
      this.lastError = why;
      this.link.logger.error({ code: body.code, shadow: doc.name }, `${why}; these values are dropped`);
      return true;
    }
    // 409: someone else updated the document; send again without a version. 429/500: again later.
    if (body.code === CONFLICT) delete doc.version;
    this.requeue(doc, sent, why);
    if (body.code === CONFLICT) void this.flush();
    return true;
  }

  /** Sends one update per document with values not yet accepted (and none in flight). */
  async flush(): Promise<void> {
    const now = Date.now();
    for (const doc of [...this.docs.values()]) {
      if (doc.pending && now - doc.pending.sentAt > 2 * this.config.shadow_interval) {
        this.byToken.delete(doc.pending.token);
        const values = doc.pending.values;
        delete doc.pending;
        this.requeue(doc, values, `shadow ${doc.name || '(classic)'} update unanswered`);
      }
    }
    if (!this.perDevice && this.stateBytes(this.docs.get(this.rootName())?.known) > SHADOW_LIMITS.stateBytes)
      this.splitPerDevice();
    try {
      if (!this.subscribed) {
        await this.link.subscribe([
          `${this.responseFilter()}/update/accepted`,
          `${this.responseFilter()}/update/rejected`,
        ]);
        this.subscribed = true;
      }
    } catch (err) {
      this.lastError = `subscribing to shadow responses failed: ${(err as Error).message}`;
      return;
    }
    for (const doc of this.docs.values()) {
      if (doc.pending || doc.dirty.size === 0) continue;
      const values = doc.dirty;
      doc.dirty = new Map();
      const token = randomUUID();
      const reported = this.perDevice ? Object.fromEntries(values.values().next().value ?? []) : nested(values);
      const body = JSON.stringify({
        state: { reported },
        clientToken: token,
        ...(doc.version !== undefined && { version: doc.version }),
      });
      const size = this.stateBytes(doc.known);
      if (size > SHADOW_LIMITS.stateBytes) {
        this.counts.rejected++;
        this.lastError = `shadow ${doc.name || '(classic)'} reported state is ${size} bytes, over AWS's ${SHADOW_LIMITS.stateBytes}-byte limit per document; its values are not reported`;
        this.link.logger.error({ shadow: doc.name }, this.lastError);
        continue;
      }
      doc.pending = { token, values, sentAt: now };
      this.byToken.set(token, doc);
      try {
        await this.link.publish(`${this.topicOf(doc.name)}/update`, body);
      } catch (err) {
        this.byToken.delete(token);
        delete doc.pending;
        this.requeue(doc, values, `shadow update not sent: ${(err as Error).message}`);
      }
    }
  }

  private requeue(doc: Doc, values: Values, why: string): void {
    this.counts.retried++;
    this.lastError = why;
    // Values observed since are newer: keep them, put back only what they did not replace.
    for (const [dev, tags] of values)
      for (const [tag, v] of tags) if (!doc.dirty.get(dev)?.has(tag)) setValue(doc.dirty, dev, tag, v);
  }

  private rootName(): string {
    return this.config.shadow_name ?? '';
  }

  private docFor(deviceId: string): Doc {
    const name = this.perDevice ? deviceShadowName(this.config.shadow_name, deviceId) : this.rootName();
    let doc = this.docs.get(name);
    if (!doc) this.docs.set(name, (doc = { name, dirty: new Map(), known: new Map() }));
    return doc;
  }

  /** The whole state no longer fits one document: from now on, one named shadow per device. */
  private splitPerDevice(): void {
    const root = this.docs.get(this.rootName());
    this.link.logger.warn(
      { thing: this.config.thing_name },
      `the reported state exceeds AWS's ${SHADOW_LIMITS.stateBytes}-byte shadow document limit: reporting one named shadow per device from now on (set shadow_per_device: true to start that way)`,
    );
    this.perDevice = true;
    this.subscribed = false;
    if (!root) return;
    this.docs.delete(root.name);
    if (root.pending) this.byToken.delete(root.pending.token);
    for (const [dev, tags] of root.known) {
      const doc = this.docFor(dev);
      for (const [tag, v] of tags) {
        setValue(doc.dirty, dev, tag, v);
        setValue(doc.known, dev, tag, v);
      }
    }
  }

  private topicOf(name: string): string {
    return name === '' ? this.base : `${this.base}/name/${name}`;
  }

  private responseFilter(): string {
    return this.perDevice ? `${this.base}/name/+` : this.topicOf(this.rootName());
  }

  private stateBytes(values: Values | undefined): number {
    if (!values) return 0;
    const reported = this.perDevice ? Object.fromEntries(values.values().next().value ?? []) : nested(values);
    return Buffer.byteLength(JSON.stringify({ reported }));
  }
}

/** The named shadow of a device: its id (or `<shadow_name>-<id>`), with characters AWS refuses replaced by `_`. */
export function deviceShadowName(prefix: string | undefined, deviceId: string): string {
  const name = `${prefix === undefined ? '' : `${prefix}-`}${deviceId}`.replace(/[^a-zA-Z0-9:_-]/g, '_');
  return name.slice(0, SHADOW_LIMITS.nameBytes);
}

function setValue(values: Values, device: string, tag: string, value: PointValue): void {
  let tags = values.get(device);
  if (!tags) values.set(device, (tags = new Map<string, PointValue>()));
  tags.set(tag, value);
}

function nested(values: Values): Record<string, Record<string, PointValue>> {
  const out: Record<string, Record<string, PointValue>> = {};
  for (const [dev, tags] of values) out[dev] = Object.fromEntries(tags);
  return out;
}
