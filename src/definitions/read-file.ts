// Reading a definitions file within bounds (SPEC §8): it must be a regular file or a pipe
// (a FIFO, or stdin as /dev/stdin), and at most 16 MiB. The file is opened once and judged
// by fstat of that descriptor (what is checked is what is read); a pipe has no size, so it
// is read in chunks and refused as soon as it gives more than the bound. So /dev/zero, a
// directory or a device is refused at once, and an endless pipe costs at most 16 MiB of
// memory before it is refused.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fsProblem, usageError } from '../errors.js';

export const MAX_DEFINITIONS_BYTES = 16 * 1024 * 1024;

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

export function readDefinitionsText(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? '; give -f FILE or set UWSRUN_JOBS' : '';
    throw usageError(`cannot read definitions file ${path}: ${fsProblem(err)}${hint}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isFIFO() && !st.isSocket()) {
      throw usageError(`definitions file ${path} is ${kindOf(st)}; expected a regular file or a pipe`);
    }
    const tooLarge = () => usageError(`definitions file ${path} is larger than 16 MiB, the most a definitions file may have`);
    if (st.isFile() && st.size > MAX_DEFINITIONS_BYTES) throw tooLarge();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, MAX_DEFINITIONS_BYTES + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        throw usageError(`cannot read definitions file ${path}: ${fsProblem(err)}`);
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_DEFINITIONS_BYTES) throw tooLarge();
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
