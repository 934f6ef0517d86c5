/**
 * `work`, unless `signal` aborts first: then the promise rejects at once with `cancelled()`, and
 * `onAbort` runs (drop the connection, so no late acknowledgement counts for the abandoned call);
 * `work`'s late outcome is ignored. For connectors whose client call takes no signal of its own.
 * The client's own rejection passes through unchanged, for the connector to classify.
 */
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal,
  cancelled: () => Error,
  onAbort?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      reject(cancelled());
      onAbort?.();
    };
    if (signal.aborted) {
      work.catch(() => undefined);
      abort();
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the client's rejection passes through unchanged
        reject(err);
      },
    );
  });
}
