/** How one message of a write ended. */
export interface SendOutcome<M> {
  message: M;
  /** Undefined when IoT Hub acknowledged it (PUBACK). */
  error?: unknown;
}

/**
 * Sends `messages` with at most `limit` awaiting their acknowledgement at once, each started as
 * another is acknowledged, and resolves with every outcome once all are settled. `stopped()` is
 * checked before each start: when it turns true (the write was cancelled, the connection broke) the
 * messages not yet sent end with `stopError()` instead of going out.
 */
export async function sendWindowed<M>(
  messages: readonly M[],
  limit: number,
  send: (message: M) => Promise<unknown>,
  stopped: () => boolean,
  stopError: () => Error,
): Promise<Array<SendOutcome<M>>> {
  const outcomes: Array<SendOutcome<M>> = new Array<SendOutcome<M>>(messages.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < messages.length) {
      const i = next++;
      const message = messages[i] as M;
      if (stopped()) {
        outcomes[i] = { message, error: stopError() };
        continue;
      }
      try {
        await send(message);
        outcomes[i] = { message };
      } catch (error) {
        outcomes[i] = { message, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, messages.length) }, lane));
  return outcomes;
}
