// Reading the files a job may have changed: its logs and its results (SPEC §8). The job owns
// its directory and may have replaced any file in it by a FIFO (open() would block until
// someone writes), a symlink (to a secret, a device, another job's file) or a directory. So
// such a file is opened with O_NONBLOCK (a FIFO opens at once and reads as empty),
// O_NOFOLLOW (a symlink fails to open: ELOOP) and O_NOCTTY, and only read when fstat() of
// the open descriptor says it is a regular file; reads are bounded. Nothing here is ever
// done while holding the state lock: what the end of a job records (the last stderr line,
// the result listing) is gathered into EndFacts before the transaction that records it.
// The runner, which keeps the lock across event-loop turns while a queue drains, reads them
// at once only when that is bounded by itself (gatherEndFactsAtOnce: the last 4 KiB of a
// regular stderr.log opened non-blocking, and no results), and else gathers them on libuv's
// thread pool (gatherEndFactsAsync): its main thread, the one that holds and releases the
// lock, never waits on a walk of what a job left, nor on a FIFO.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ResultFile } from '../core/job.js';
import type { HomeLayout } from '../store/home.js';
import { listResults, listResultsAsync, resultsDirEmpty } from './results.js';

const SAFE_READ = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY;

/**
 * Opens a file of the job for reading: its descriptor and size, or undefined when it is
 * missing, a symlink, or not a regular file. The caller closes the descriptor.
 */
export function openJobFile(path: string): { fd: number; size: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, SAFE_READ);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (st.isFile()) return { fd, size: st.size };
  } catch { /* unreadable: as if missing */ }
  closeSync(fd);
  return undefined;
}

const TAIL = 4096;

function lastLineOf(buf: Buffer): string {
  const lines = buf.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** The last non-empty line of a log, read from its last 4 KiB only; '' when none. */
export function lastLine(file: string): string {
  const opened = openJobFile(file);
  if (!opened) return '';
  try {
    const length = Math.min(opened.size, TAIL);
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(opened.fd, buf, got, length - got, opened.size - length + got);
      if (n === 0) break; // truncated meanwhile
      got += n;
    }
    return lastLineOf(buf.subarray(0, got));
  } catch {
    return '';
  } finally {
    closeSync(opened.fd);
  }
}

/** lastLine on libuv's thread pool, with the same checks. */
async function lastLineAsync(file: string): Promise<string> {
  let fh;
  try {
    fh = await open(file, SAFE_READ);
  } catch {
    return '';
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return '';
    const length = Math.min(st.size, TAIL);
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, st.size - length + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return lastLineOf(buf.subarray(0, got));
  } catch {
    return '';
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** What the final record of a job takes from its files, gathered outside the lock. */
export interface EndFacts {
  /** The last line of stderr.log (for errorSummary); '' when none or not a regular file. */
  stderrLine: string;
  results: ResultFile[];
}

export function gatherEndFacts(layout: HomeLayout, jobId: string): EndFacts {
  return { stderrLine: lastLine(layout.stderrLog(jobId)), results: listResults(layout.resultsDir(jobId)) };
}

/**
 * The facts of a job that left no results (most jobs of a drain), read at once: its
 * stderr.log's tail (non-blocking, a regular file only, 4 KiB) and one look into its
 * results directory. Undefined when it has results: their walk is not bounded by itself
 * (up to MAX_ENTRIES entries), so the runner leaves it to the thread pool.
 */
export function gatherEndFactsAtOnce(layout: HomeLayout, jobId: string): EndFacts | undefined {
  if (!resultsDirEmpty(layout.resultsDir(jobId))) return undefined;
  return { stderrLine: lastLine(layout.stderrLog(jobId)), results: [] };
}

export async function gatherEndFactsAsync(layout: HomeLayout, jobId: string): Promise<EndFacts> {
  const [stderrLine, results] = await Promise.all([lastLineAsync(layout.stderrLog(jobId)), listResultsAsync(layout.resultsDir(jobId))]);
  return { stderrLine, results };
}
