// `logs --tail N`: where the last N lines of a log begin. The file is read backwards in
// chunks from its end, counting newlines, so a log of gigabytes costs a few reads. A final
// newline ends the last line rather than starting an empty one (as tail(1) counts).

import { readSync } from 'node:fs';
import { usageError } from '../errors.js';

const CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

export function parseLineCount(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw usageError(`--tail: ${JSON.stringify(text)} is not a whole number of lines`);
  }
  return Number(text);
}

/** The byte offset in the open file `fd` (of `size` bytes) at which its last `lines` lines begin. */
export function tailOffset(fd: number, size: number, lines: number): number {
  if (lines === 0) return size;
  const buf = Buffer.alloc(CHUNK);
  let end = size;
  let wanted = lines;
  let first = true;
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const n = readSync(fd, buf, 0, end - start, start);
    let i = n - 1;
    if (first) {
      first = false;
      if (n > 0 && buf[i] === NEWLINE) i--; // the newline that ends the last line
    }
    for (; i >= 0; i--) {
      if (buf[i] === NEWLINE && --wanted === 0) return start + i + 1;
    }
    end = start;
  }
  return 0;
}
