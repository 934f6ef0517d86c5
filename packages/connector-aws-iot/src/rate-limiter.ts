/**
 * Paces PUBLISH packets under AWS IoT's per-connection quotas (publishes per second and bytes per
 * second) before they reach the wire, so the broker never throttles the connection. A token bucket
 * per quota holding one second's worth; a message larger than a second's bytes waits for a full
 * bucket and then goes (it still fits the 128 KB limit).
 */
export class PublishRateLimiter {
  private messages: number;
  private bytes: number;
  private last: number;
  /** Callers waiting for tokens, first come first served. */
  private readonly queue: Array<{ bytes: number; resolve: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly messagesPerSecond: number,
    private readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.messages = messagesPerSecond;
    this.bytes = bytesPerSecond;
    this.last = now();
  }

  /** Takes the tokens of one message of `bytes` if they are there now and nobody waits before it. */
  tryTake(bytes: number): boolean {
    return this.queue.length === 0 && this.takeNow(bytes);
  }

  /** Resolves when one message of `bytes` may be sent (the tokens are taken). */
  take(bytes: number): Promise<void> {
    if (this.tryTake(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      this.queue.push({ bytes, resolve });
      this.schedule();
    });
  }

  /** Releases everyone waiting (the connection is going away; their sends fail on their own). */
  drain(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.queue.splice(0)) w.resolve();
  }

  private refill(): void {
    const t = this.now();
    const elapsed = (t - this.last) / 1000;
    this.last = t;
    this.messages = Math.min(this.messagesPerSecond, this.messages + elapsed * this.messagesPerSecond);
    this.bytes = Math.min(this.bytesPerSecond, this.bytes + elapsed * this.bytesPerSecond);
  }

  private takeNow(bytes: number): boolean {
    this.refill();
    const need = Math.min(bytes, this.bytesPerSecond);
    if (this.messages < 1 || this.bytes < need) return false;
    this.messages -= 1;
    this.bytes -= need;
    return true;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const head = this.queue[0];
    if (!head) return;
    const need = Math.min(head.bytes, this.bytesPerSecond);
    const waitMessages = this.messages >= 1 ? 0 : (1 - this.messages) / this.messagesPerSecond;
    const waitBytes = this.bytes >= need ? 0 : (need - this.bytes) / this.bytesPerSecond;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        while (this.queue.length > 0 && this.takeNow(this.queue[0]!.bytes)) this.queue.shift()!.resolve();
        this.schedule();
      },
      Math.max(1, Math.ceil(1000 * Math.max(waitMessages, waitBytes))),
    );
  }
}
