/**
 * Lets writes share the connection, or one write run alone: a write isolating a suspected poison
 * point waits for the writes in flight and holds back new ones, so a connection it breaks fails no
 * other write, and the others' successes between its attempts prove the peer was up. First come,
 * first served: a shared write queued behind an exclusive one waits for it.
 */
export class WriteGate {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: Array<{ exclusive: boolean; admit: () => void }> = [];

  /** Resolves once the write may start; call the returned function when it ended. */
  async enter(exclusive: boolean): Promise<() => void> {
    if (!this.waiting.length && this.admits(exclusive)) this.take(exclusive);
    else await new Promise<void>((admit) => this.waiting.push({ exclusive, admit }));
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (exclusive) this.exclusive = false;
      else this.shared--;
      this.admitWaiting();
    };
  }

  private admits(exclusive: boolean): boolean {
    return !this.exclusive && (!exclusive || this.shared === 0);
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }

  private admitWaiting(): void {
    for (let next = this.waiting[0]; next && this.admits(next.exclusive); next = this.waiting[0]) {
      this.waiting.shift();
      this.take(next.exclusive);
      next.admit();
    }
  }
}
