// `logs --follow`: prints what the job has written so far, then keeps reading from where it
// stopped, until the job is final and a last read finds nothing new. Polls the file size
// (cheap, and works when the writer is a process we do not know). With `--tail N` it starts
// at the last N lines of what is there when the file is first opened.

import { closeSync, fstatSync, readSync } from 'node:fs';
import { openJobFile } from '../run/job-files.js';
import type { Store } from '../store/state.js';
import { isFinal } from '../core/phases.js';
import { tailOffset } from './tail.js';
import { writeOut } from './stdout.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function drain(fd: number, from: number): number {
  const buf = Buffer.alloc(64 * 1024);
  let pos = from;
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return pos;
    writeOut(buf.subarray(0, n));
    pos += n;
  }
}

export async function followLog(store: Store, jobId: string, file: string, tailLines?: number): Promise<void> {
  let fd: number | undefined;
  let pos = 0;
  try {
    for (;;) {
      const job = store.getJob(jobId);
      const final = !job || isFinal(job.phase);
      if (fd === undefined) {
        // Only a regular file is read: the job may have made its log a FIFO or a symlink.
        fd = openJobFile(file)?.fd;
        if (fd === undefined && final) return;
        if (fd !== undefined && tailLines !== undefined) pos = tailOffset(fd, fstatSync(fd).size, tailLines);
      }
      if (fd !== undefined) {
        if (fstatSync(fd).size > pos) pos = drain(fd, pos);
        // Read once more after seeing the job final: it may have written until its end.
        if (final) {
          pos = drain(fd, pos);
          return;
        }
      }
      await sleep(100);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
