import type { FastifyReply, FastifyRequest } from 'fastify';

/** Answer of a data POST refused because too many bytes are being ingested already. */
export const INGEST_BUSY = {
  error: 'BIFROST_ERR_INGEST_BUSY',
  message: 'too many request bytes are being ingested at once (api.max_ingest_bytes); retry after Retry-After seconds',
} as const;

/**
 * Bounds the bytes of data-POST bodies being received, parsed and queued at once, so that a burst
 * costs clients a 503 with `Retry-After` instead of the gateway a heap that grows with it (a parsed
 * JSON body takes about ten times its size in objects until its points are committed).
 */
export class IngestBudget {
  private inFlight = 0;

  /**
   * @param maxBytes Bytes of bodies in flight at most; one request is always let in alone, whatever its size.
   * @param unknownLength Bytes reserved for a body of unknown decoded size (no `Content-Length`, or
   *   compressed): the body limit, which bounds the decoded text.
   */
  constructor(
    readonly maxBytes: number,
    private readonly unknownLength: number,
  ) {}

  /** Bytes currently reserved by requests in flight. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /**
   * An `onRequest` hook: reserves the request's declared body size until its response is finished
   * or the connection closes, or answers 503 with `Retry-After: 1` when that would exceed the budget.
   */
  readonly onRequest = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const declared = Number(req.headers['content-length']);
    const encoding = req.headers['content-encoding'];
    const plain = encoding === undefined || encoding.toLowerCase() === 'identity';
    const bytes = plain && Number.isSafeInteger(declared) && declared >= 0 ? declared : this.unknownLength;
    if (this.inFlight > 0 && this.inFlight + bytes > this.maxBytes) {
      void reply.code(503).header('retry-after', '1').send(INGEST_BUSY);
      return;
    }
    this.inFlight += bytes;
    reply.raw.once('close', () => {
      this.inFlight -= bytes;
    });
    done();
  };
}
