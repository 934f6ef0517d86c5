/**
 * The last lines a peer wrote to stdout/stderr, kept in memory so a failing test (or a failed
 * start) can show what the server said without flooding passing runs.
 */
export class LogRing {
  private readonly lines: string[] = [];
  private partial = '';

  /** @param capacity how many lines to keep (oldest dropped first) */
  constructor(private readonly capacity = 400) {}

  /** Appends a chunk of output; lines are split on `\n`, a trailing partial line waits for the rest. */
  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  /** Adds a marker line of the harness itself (start, stop, exit code). */
  note(line: string): void {
    this.push(`${this.partial ? '\n' : ''}--- ${line} ---\n`);
  }

  /** The kept output; the last `maxLines` lines when given. */
  text(maxLines = this.capacity): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.slice(-maxLines).join('\n');
  }
}
