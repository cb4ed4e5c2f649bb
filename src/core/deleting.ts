// A delete in progress, as waiters see it. Deleting an active job aborts it first, and its
// ABORTED record is committed a moment before the job is removed (the abort waits for the
// job's processes; the removal is a transaction of its own). A `wait` that looked in between
// would report a job that ended ABORTED (exit 1) where SPEC §9 says a job deleted while
// waited for is exit 3. So whoever deletes an active job (`delete`, `clean`, destruction)
// first leaves HOME/records/ID/deleting, holding its pid and process start time; a watcher
// that finds the job ABORTED with that marker, and its writer alive, keeps watching until
// the job is gone. The marker goes with the record (moved aside by the delete); a deleter
// that died leaves a stale one, which counts for nothing; one that gave up removes its own.

import { unlinkSync, writeFileSync } from 'node:fs';
import type { HomeLayout } from '../store/home.js';
import { isProcessAlive, processStartTime, readPidMark } from '../run/proc.js';

/** Leaves the marker (created exclusively: never through a symlink); returns its undo. */
export function markDeleting(layout: HomeLayout, jobId: string): () => void {
  const file = layout.deletingMarker(jobId);
  try {
    writeFileSync(file, `${process.pid} ${processStartTime(process.pid) ?? ''}\n`, { flag: 'wx', mode: 0o600 });
  } catch {
    return () => {}; // another deleter's marker, or no record directory: nothing of ours to undo
  }
  return () => {
    try {
      unlinkSync(file);
    } catch { /* gone with the record */ }
  };
}

/** Whether a live process is deleting the job. */
export function beingDeleted(layout: HomeLayout, jobId: string): boolean {
  const mark = readPidMark(layout.deletingMarker(jobId));
  return mark !== undefined && isProcessAlive(mark.pid, mark.pidStart || null);
}
