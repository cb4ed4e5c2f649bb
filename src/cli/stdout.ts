// Data on stdout, written with a plain write(2): process.stdout would load the stream
// machinery (net, tty) on every command. A non-blocking pipe that is full falls back to it.
// A reader that stops reading (`uwsrun list | head -1`) closes the pipe: every later write
// fails with EPIPE (Node ignores SIGPIPE, which would end a C program quietly). That is the
// reader's choice, not a failure of uwsrun: the command ends at once, quietly, exit 0,
// instead of an "internal error" with exit 70 or an unhandled 'error' event with exit 1.
// By then whatever the command changed is committed (data is printed after the commit).

import { writeSync } from 'node:fs';

const readerGone = (): never => process.exit(0);

let watchingStream = false;

/** Writes through process.stdout; an EPIPE that arrives later ends the command as above. */
function writeStream(buf: Buffer): void {
  if (!watchingStream) {
    watchingStream = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') readerGone();
      throw err;
    });
  }
  process.stdout.write(buf);
}

export function writeOut(data: string | Buffer): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let done = 0;
  try {
    while (done < buf.length) done += writeSync(1, buf, done);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') readerGone();
    if (code !== 'EAGAIN') throw err;
    writeStream(buf.subarray(done));
  }
}
