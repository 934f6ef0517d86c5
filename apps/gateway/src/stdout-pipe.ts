/**
 * Ends the process quietly when the reader of stdout goes away (`bifrost schema | head`): the
 * EPIPE that Node raises as an unhandled 'error' event would otherwise print a stack trace and
 * exit 1. Exit code 0, as for `cat`, since the output was not wanted any more.
 */
export function exitQuietlyOnClosedStdout(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}
