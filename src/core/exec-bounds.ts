// The bounds a job's command line must fit in (SPEC §8), checked when the job is created or
// changed, so that a job the kernel could never start is refused at once (exit 2) instead
// of being accepted and then failing with "Argument list too long" when the runner starts
// it. execve(2) on Linux refuses
//   - one argument or environment string (with its NUL) longer than MAX_ARG_STRLEN
//     (32 pages, 128 KiB), and
//   - all strings plus one pointer each beyond a quarter of the stack limit (at least
//     128 KiB, at most 6 MiB): what `getconf ARG_MAX` says.
// The stack limit is read from /proc/self/limits: the runner and the job inherit it from
// the command that started them, which on a normal system has the same limits as this one.
// A margin is kept for what the kernel adds itself (the program's file name, alignment).

import { readFileSync } from 'node:fs';
import type { JobRecord } from './job.js';
import { usageError } from '../errors.js';

/** The longest parameter value (SPEC §8). */
export const MAX_VALUE_BYTES = 128 * 1024;
/** Linux's MAX_ARG_STRLEN: one argument or NAME=value string, its NUL included. */
const MAX_ARG_STRLEN = 32 * 4096;
const POINTER_BYTES = 8;
const MARGIN_BYTES = 4096;

const KiB = (bytes: number): string => `${Math.ceil(bytes / 1024)} KiB`;

/** The kernel's limit on argv + environment for a process started from this one. */
export function argMax(): number {
  const floor = 128 * 1024;
  const ceiling = 6 * 1024 * 1024;
  let stack = Infinity;
  try {
    const m = /^Max stack size\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m && m[1] !== 'unlimited') stack = Number(m[1]);
  } catch { /* no /proc: assume the common 8 MiB stack */ stack = 8 * 1024 * 1024; }
  return Math.max(floor, Math.min(ceiling, Math.floor(stack / 4)));
}

let limit: number | undefined;

/** Refuses (exit 2) a job whose parameters or command line the kernel would not take. */
export function checkExecBounds(job: Pick<JobRecord, 'paramText' | 'command' | 'env'>): void {
  for (const [name, text] of Object.entries(job.paramText)) {
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_VALUE_BYTES) {
      throw usageError(`parameter ${name}: the value is ${KiB(bytes)}; a value may have at most 128 KiB`);
    }
  }
  let total = 0;
  for (const [i, arg] of job.command.entries()) {
    const bytes = Buffer.byteLength(arg) + 1;
    if (bytes > MAX_ARG_STRLEN) {
      throw usageError(`argument ${i} of the command is ${KiB(bytes)} once its placeholders are filled in; the system takes at most 128 KiB per argument`);
    }
    total += bytes + POINTER_BYTES;
  }
  for (const [name, value] of Object.entries(job.env)) {
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
    if (bytes > MAX_ARG_STRLEN) {
      throw usageError(`environment variable ${name} of the job is ${KiB(bytes)}; the system takes at most 128 KiB per variable`);
    }
    total += bytes + POINTER_BYTES;
  }
  limit ??= argMax() - MARGIN_BYTES;
  if (total > limit) {
    throw usageError(`the job's command line and environment together are ${KiB(total)}, more than the system's limit of ${KiB(limit)} (ARG_MAX)`);
  }
}
