// Temp files that killed writers left behind. Every durable write goes through a temp file
// beside its target, `.NAME.PID.COUNTER.tmp` (durable.ts tempName: the writer's pid and its
// own counter in base 36), and a writer under the lock keeps the old version of what it
// replaces under such a name until the lock is released (replaceKeepingOld). A process
// killed (SIGKILL, a crash) between creating one and renaming or unlinking it leaves it for
// ever. This module finds them and removes them; `tick` and `doctor` call it.
//
// A file is a leftover only when all of these hold:
//   - its name is exactly `.<name>.<pid>.<base36>.tmp`, for a NAME uwsrun writes through a
//     temp file in that directory (LEFTOVER_DIRS);
//   - it is a regular file, judged by lstat: a symbolic link (or anything else) is never one
//     of ours, and is neither followed nor removed;
//   - the process named by its pid is gone (run/proc.ts; a zombie counts as gone). A live
//     pid means "maybe still writing": the file is kept, whoever the process is (a pid
//     reused by an unrelated process only keeps a leftover until that process ends);
//   - it was last modified more than LEFTOVER_TEMP_AGE_MS ago.
//
// Why no lock is taken. A temp file is written only by the process whose pid it carries,
// and once that process is gone nobody opens it again: every writer creates names of its
// own, exclusively (O_EXCL: even a process that got the dead one's pid again cannot create a
// name that still exists). A writer that holds the state lock is alive while it holds it,
// so the pid rule already keeps its files; and the writers that work outside the lock (a
// one-turn submit's temp files made before its turn, the runner moving final records out
// of state.json, serve's creations, tokens.json, the definitions cache) would not be kept
// safe by it anyway. The lock would only cost: unlinking a synced file frees its blocks,
// which on a file system mounted with `discard` waits for the device (durable.ts), and
// under the lock every waiter would wait for that too. Two cleaners at once (two ticks,
// tick and doctor) each lstat a file again right before unlinking it and go on only when
// it is still the same inode with the same mtime; ENOENT means the other one removed it.
// The age margin is a second guard where /proc cannot tell (a writer in another pid
// namespace sharing the HOME, which the lock cannot protect either: its holder's pid is
// judged the same way): no write takes a minute between two of its write(2)s.
//
// What is looked at (cost: one readdir per directory, an lstat and a /proc read per name
// that matches). `tick`, every minute, looks at the HOME itself (state.json's and the good
// copy's temp files, up to hundreds of KiB each, and tokens.json's) and HOME/cache/ (one
// file per definitions file): a few entries each. `doctor` looks at every directory
// uwsrun writes through temp files: also HOME/runids/ (one file per run id) and every
// HOME/records/ID/ (job.json, Slurm's request), one readdir per job, which tick must not
// pay every minute in a HOME of 100,000 jobs; those leftovers are small (a record, a job
// id). A record directory without job.json is left alone: it is a creation in progress or
// a submit's leftover, which the half-created rule of run/housekeeping.ts judges and
// removes as a whole.

import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isJobId } from '../core/job.js';
import type { HomeLayout } from './home.js';
import { isProcessAlive } from '../run/proc.js';

/**
 * How old (by mtime) a temp file of a gone process must be before it is removed: the same
 * minute as a half-created job directory (run/housekeeping.ts).
 */
export const LEFTOVER_TEMP_AGE_MS = 60_000;

/** `.NAME.PID.COUNTER.tmp`, as durable.ts tempName makes it (a pid has no leading zero). */
const TEMP_NAME = /^\.(.+)\.([1-9][0-9]{0,9})\.([0-9a-z]+)\.tmp$/;

/** The file a temp name belongs to and the pid of its writer; undefined for any other name. */
export function parseTempName(name: string): { target: string; pid: number } | undefined {
  const m = TEMP_NAME.exec(name);
  if (!m) return undefined;
  const pid = Number(m[2]);
  return Number.isSafeInteger(pid) ? { target: m[1]!, pid } : undefined;
}

/** A directory uwsrun writes through temp files, and the names it writes there (null: any). */
interface LeftoverDir {
  dir: string;
  targets: ReadonlySet<string> | null;
  /** Looked at only when the directory holds this file (a record directory: its job.json). */
  onlyBeside?: string;
}

const HOME_TARGETS: ReadonlySet<string> = new Set(['state.json', 'state.good.json', 'tokens.json']);
const RECORD_TARGETS: ReadonlySet<string> = new Set(['job.json', 'request']);

/** The directories `tick` looks at (cheap: a few entries each); `everywhere` adds runids/ and each records/ID/ (doctor). */
function leftoverDirs(layout: HomeLayout, everywhere: boolean): LeftoverDir[] {
  const dirs: LeftoverDir[] = [{ dir: layout.dir, targets: HOME_TARGETS }, { dir: layout.cacheDir, targets: null }];
  if (!everywhere) return dirs;
  dirs.push({ dir: layout.runIdsDir, targets: null });
  for (const id of listDir(layout.recordsDir)) {
    if (isJobId(id)) dirs.push({ dir: layout.recordDir(id), targets: RECORD_TARGETS, onlyBeside: 'job.json' });
  }
  return dirs;
}

const listDir = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return []; // not there (no cache yet), or not a directory: nothing of ours to clean
  }
};

export interface LeftoverTemp {
  path: string;
  bytes: number;
  ino: number;
  mtimeMs: number;
}

/** The leftover judged as above, or undefined; `path` is `dir/name` for a name that parsed. */
function judge(path: string, pid: number, now: number): LeftoverTemp | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return undefined; // gone meanwhile (committed, or removed by another cleaner)
  }
  if (!st.isFile() || now - st.mtimeMs <= LEFTOVER_TEMP_AGE_MS) return undefined;
  if (isProcessAlive(pid, null)) return undefined;
  return { path, bytes: st.size, ino: st.ino, mtimeMs: st.mtimeMs };
}

/** Temp files of gone processes, older than the margin; `everywhere`: see leftoverDirs. */
export function findLeftoverTemps(layout: HomeLayout, everywhere: boolean, now = Date.now()): LeftoverTemp[] {
  const found: LeftoverTemp[] = [];
  for (const { dir, targets, onlyBeside } of leftoverDirs(layout, everywhere)) {
    const names = listDir(dir);
    if (onlyBeside && !names.includes(onlyBeside)) continue;
    for (const name of names) {
      if (name.charCodeAt(0) !== 0x2e) continue; // '.': the cheap test first
      const parsed = parseTempName(name);
      if (!parsed || (targets && !targets.has(parsed.target))) continue;
      const leftover = judge(join(dir, name), parsed.pid, now);
      if (leftover) found.push(leftover);
    }
  }
  return found;
}

export interface RemovedTemps {
  count: number;
  bytes: number;
  /** What could not be removed, as `errno` (EACCES, EROFS...), one per file. */
  failed: string[];
}

/**
 * Unlinks each leftover that is still the same file (inode and mtime, lstat'ed again) and
 * still a gone process's (see the top comment for why that is enough without the lock).
 */
export function removeLeftoverTemps(found: readonly LeftoverTemp[], now = Date.now()): RemovedTemps {
  const done: RemovedTemps = { count: 0, bytes: 0, failed: [] };
  for (const f of found) {
    const name = f.path.slice(f.path.lastIndexOf('/') + 1);
    const parsed = parseTempName(name);
    const again = parsed && judge(f.path, parsed.pid, now);
    if (!again || again.ino !== f.ino || again.mtimeMs !== f.mtimeMs) continue;
    try {
      unlinkSync(f.path);
      done.count++;
      done.bytes += f.bytes;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') done.failed.push(code ?? String(err));
    }
  }
  return done;
}

/** `412 bytes`, `3.5 KiB`, `1.2 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} byte${n === 1 ? '' : 's'}`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** What kept some from being removed (RemovedTemps.failed): `EACCES, EROFS`, each errno once. */
export const describeFailures = (failed: readonly string[]): string => [...new Set(failed)].join(', ');

/** `2 temp files (3.5 KiB)`. */
export function describeTemps(count: number, bytes: number): string {
  return `${count} temp file${count === 1 ? '' : 's'} (${formatBytes(bytes)})`;
}
