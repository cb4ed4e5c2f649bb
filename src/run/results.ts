// A job's result files: every regular file under its results directory, found by a
// depth-first walk that lstat()s each entry and descends only into real directories. A
// symlink is never followed, whatever it points to (a file, a directory, inside or outside),
// and a results directory that is itself a symlink lists nothing, so no file outside the
// directory is ever reported. Sockets, FIFOs and devices are skipped. Entries that vanish or
// cannot be read mid-walk are skipped. The walk stops at MAX_RESULTS files, and reads at
// most MAX_ENTRIES directory entries in all (a job may leave millions of empty directories
// or non-files: the listing stays bounded in time and memory). (A process that
// swaps a directory for a symlink between our lstat and readdir could win a race; results
// are listed once the job's processes are gone, which is what makes that acceptable.)

import { lstatSync, opendirSync, type Stats } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ResultFile } from '../core/job.js';
import { mimeTypeOf } from './mime.js';

export const MAX_RESULTS = 10_000;
export const MAX_ENTRIES = 200_000;

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined; // vanished (ENOENT) or unreadable: not a result we can report
  }
}

/** Up to `budget.left` names in `dir`, sorted; the budget is spent as they are read. */
function namesIn(dir: string, budget: { left: number }): string[] {
  const names: string[] = [];
  let d;
  try {
    d = opendirSync(dir);
  } catch {
    return names;
  }
  try {
    for (let e = d.readSync(); e !== null && budget.left > 0; e = d.readSync(), budget.left--) names.push(e.name);
  } catch { /* unreadable mid-way: what was read */ } finally {
    d.closeSync();
  }
  return names.sort();
}

/** Regular files under `resultsDir`, ids relative with '/', sorted by id; [] if it is missing. */
export function listResults(resultsDir: string, limit: number = MAX_RESULTS): ResultFile[] {
  const root = resolve(resultsDir);
  if (!lstatOrUndefined(root)?.isDirectory()) return [];
  const found: ResultFile[] = [];
  const budget = { left: MAX_ENTRIES };
  const walk = (dir: string, prefix: string): void => {
    for (const name of namesIn(dir, budget)) {
      if (found.length >= limit) return;
      const path = join(dir, name);
      const stat = lstatOrUndefined(path);
      if (stat?.isDirectory()) {
        walk(path, `${prefix}${name}/`);
      } else if (stat?.isFile()) {
        found.push({ id: prefix + name, path, size: stat.size, mimeType: mimeTypeOf(name) });
      }
    }
  };
  walk(root, '');
  return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Whether listResults would find nothing, found out in bounded time: the directory is
 * missing or not a directory (a symlink lists nothing), or its first read of entries has
 * none. (A directory with entries may take a long walk: listResultsAsync.)
 */
export function resultsDirEmpty(resultsDir: string): boolean {
  if (!lstatOrUndefined(resultsDir)?.isDirectory()) return true;
  let d;
  try {
    d = opendirSync(resultsDir);
  } catch {
    return true;
  }
  try {
    return d.readSync() === null;
  } catch {
    return false; // unreadable: the walk decides
  } finally {
    d.closeSync();
  }
}

/** listResults on libuv's thread pool: for the runner, which must not wait on a job's files. */
export async function listResultsAsync(resultsDir: string, limit: number = MAX_RESULTS): Promise<ResultFile[]> {
  const lstatQuietly = (path: string) => lstat(path).catch(() => undefined);
  const root = resolve(resultsDir);
  if (!(await lstatQuietly(root))?.isDirectory()) return [];
  const found: ResultFile[] = [];
  const budget = { left: MAX_ENTRIES };
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names: string[] = [];
    try {
      const d = await opendir(dir);
      try {
        for (let e = await d.read(); e !== null && budget.left > 0; e = await d.read(), budget.left--) names.push(e.name);
      } finally {
        await d.close().catch(() => undefined);
      }
    } catch { /* missing or unreadable mid-way: what was read */ }
    for (const name of names.sort()) {
      if (found.length >= limit) return;
      const path = join(dir, name);
      const stat = await lstatQuietly(path);
      if (stat?.isDirectory()) await walk(path, `${prefix}${name}/`);
      else if (stat?.isFile()) found.push({ id: prefix + name, path, size: stat.size, mimeType: mimeTypeOf(name) });
    }
  };
  await walk(root, '');
  return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
