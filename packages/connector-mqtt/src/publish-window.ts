import { classifyError, type BifrostError, type RejectedPoint } from '@bifrost/core';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import { classifyPublishReason, reasonCodeOf } from './mqtt-errors.js';

/** One PUBLISH to send: its topic, its serialised payload and the ids of the points it carries. */
export interface OutgoingMessage {
  topic: string;
  payload: string;
  options: IClientPublishOptions;
  ids: readonly string[];
}

/** What the broker refused among messages that all got a reply; every other point was acknowledged. */
export interface PublishOutcome {
  /** Points in messages the broker refused for good (poison), with the reason. */
  rejected: RejectedPoint[];
}

/**
 * Sends messages with at most `window` awaiting their acknowledgement at once and collects every
 * reply. Resolves once each message was acknowledged or refused as poison; rejects with the first
 * error that fails the whole write (auth, capacity, transient, connection lost via {@link fail}).
 *
 * Uses `client.publish` with one callback per message instead of `publishAsync` + `Promise.all`:
 * the same pipelining, without a promise per message on the hot path.
 */
export class PublishWindow {
  readonly done: Promise<PublishOutcome>;
  private resolve!: (o: PublishOutcome) => void;
  private reject!: (e: BifrostError) => void;
  private next = 0;
  private outstanding = 0;
  private finished = false;
  private readonly rejected: RejectedPoint[] = [];

  constructor(
    private readonly client: MqttClient,
    private readonly messages: readonly OutgoingMessage[],
    private readonly window: number,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (messages.length === 0) this.finish();
    else this.fill();
  }

  /** Fails the write now (the connection broke or the connector is closing); later replies are ignored. */
  fail(err: BifrostError): void {
    if (this.finished) return;
    this.finished = true;
    this.reject(err);
  }

  private fill(): void {
    while (!this.finished && this.outstanding < this.window) {
      const msg = this.messages[this.next];
      if (!msg) break;
      this.next++;
      this.outstanding++;
      this.client.publish(msg.topic, msg.payload, msg.options, (err) => this.onReply(msg, err));
    }
  }

  private onReply(msg: OutgoingMessage, err: Error | undefined): void {
    if (this.finished) return;
    this.outstanding--;
    if (err) {
      const rc = reasonCodeOf(err);
      if (rc === undefined || rc < 0x80) return this.fail(classifyError(err));
      const verdict = classifyPublishReason(rc, err.message);
      if (!verdict.poison) return this.fail(verdict.error);
      for (const id of msg.ids) this.rejected.push({ id, reason: verdict.reason, kind: 'payload' });
    }
    if (this.next < this.messages.length) this.fill();
    else if (this.outstanding === 0) this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.resolve({ rejected: this.rejected });
  }
}
