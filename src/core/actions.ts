// The state changes users ask for besides submit and abort: run (PENDING -> QUEUED),
// delete (and clean, which deletes through it), and the HOME-wide limit (0 pauses the
// HOME). Each is one transaction; refusals come from the transition table and leave
// everything unchanged.

import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type JobRecord, isoNow } from './job.js';
import { type Phase, applyTransition, isFinal } from './phases.js';
import { DamagedRecordError, EXIT, UserError, noSuchJob, usageError } from '../errors.js';
import type { StateData, Store } from '../store/state.js';
import { readEntries, removeEntry } from '../store/queue-dir.js';
import { SYNCFS_FROM, prepareSyncfs } from '../store/syncfs.js';
import { needsRunner, nudgeRunner, runnerWakeFor, wakeRunner, type RunnerWake } from '../run/ensure-runner.js';
import { abortJob, terminateUnreadableJob } from '../run/abort.js';
import { readStartMarker } from '../run/lifecycle.js';
import { queueEach } from './each-job.js';
import { markDeleting } from './deleting.js';
import type { HomeLayout } from '../store/home.js';

/** Queues PENDING jobs (FIFO); returns, per id, the queued job or the refusal. */
export async function runJobs(store: Store, ids: string[]): Promise<(JobRecord | Error)[]> {
  // Many records written in the transaction are synced with syncfs(2) (store/syncfs.ts).
  if (ids.length >= SYNCFS_FROM) await prepareSyncfs();
  return queueEach(store, ids, (tx, job) => {
    const queued = { ...job, phase: applyTransition(job, 'run').to };
    tx.putHot(queued, { queuedAt: ++tx.state.queueSeq });
    return queued;
  });
}

/**
 * Aborts the job if it is active, then removes its record and directory. `onlyIf`, checked
 * again under the lock, lets a caller that chose the job from a snapshot (clean) leave it
 * alone if it changed meanwhile: then nothing is removed and the result is undefined.
 */
export async function deleteJob(store: Store, jobId: string): Promise<JobRecord>;
export async function deleteJob(store: Store, jobId: string, onlyIf: (job: JobRecord) => boolean): Promise<JobRecord | undefined>;
export async function deleteJob(store: Store, jobId: string, onlyIf?: (job: JobRecord) => boolean): Promise<JobRecord | undefined> {
  // Waiters are told that the ABORTED they may see next is a delete's (core/deleting.ts);
  // the mark goes with the record, and is taken back when the job is not deleted after all.
  const mark: DeleteMark = {};
  try {
    const deleted = await deleteMarked(store, jobId, onlyIf, mark);
    if (!deleted) mark.undo?.();
    return deleted;
  } catch (err) {
    mark.undo?.();
    throw err;
  }
}

interface DeleteMark {
  undo?: () => void;
}

async function deleteMarked(store: Store, jobId: string, onlyIf: ((job: JobRecord) => boolean) | undefined, mark: DeleteMark): Promise<JobRecord | undefined> {
  for (;;) {
    let job = store.getJob(jobId);
    if (!job) throw noSuchJob(jobId);
    if (!isFinal(job.phase) && !abortsInPlace(store.readState(), store.layout, job)) {
      mark.undo ??= markDeleting(store.layout, jobId);
      try {
        job = await abortJob(store, jobId, onlyIf);
      } catch (err) {
        // It became final on its own meanwhile; delete it all the same.
        if (!(err instanceof Error && 'exitCode' in err && err.exitCode === 4)) throw err;
      }
    }
    // Under the lock its two directories (the job's own and uwsrun's record of it) are only
    // moved aside (one rename each); removing their contents, which may be large, happens
    // after the lock is released. Either may be missing: an archived job has no job
    // directory, and a job may have removed its own.
    const trash = join(store.layout.trashDir, `${jobId}.${process.pid}.${Date.now()}`);
    // Not awaited when the lock handed over is still there (a final job: no abort ran), or
    // the server would release it unused meanwhile and this transaction block on its own.
    const ready = store.lockAhead();
    if (ready) await ready;
    const deleted = store.update((tx): JobRecord | undefined | 'started' => {
      let now = tx.getJob(jobId);
      if (!now) throw noSuchJob(jobId);
      if (onlyIf && !onlyIf(now)) return undefined;
      if (!isFinal(now.phase)) {
        // No process involved: aborted and removed in this one transaction, so the jobs
        // waiting on it (run/waiting.ts) see it deleted, never ABORTED first.
        if (!abortsInPlace(tx.state, tx.layout, now)) return 'started'; // it started meanwhile
        now = { ...now, phase: applyTransition(now, 'abort').to, endTime: isoNow() };
        tx.finish(now);
      }
      mkdirSync(trash, { recursive: true, mode: 0o700 });
      moveIfThere(tx.layout.jobDir(jobId), join(trash, 'job'));
      moveIfThere(tx.layout.recordDir(jobId), join(trash, 'record'));
      tx.forget(jobId);
      return now;
    });
    if (deleted === 'started') continue;
    if (deleted) {
      nudgeRunner(store.readState());
      rmSync(trash, { recursive: true, force: true });
    }
    return deleted;
  }
}

/**
 * A job whose abort involves no process and no executor: PENDING, HELD, or QUEUED, never
 * started and with no hot entry (a QUEUED job has one while it is handed to Slurm).
 */
function abortsInPlace(state: StateData, layout: HomeLayout, job: JobRecord): boolean {
  return job.phase === 'PENDING' || job.phase === 'HELD'
    || (job.phase === 'QUEUED' && !state.jobs[job.jobId] && !readStartMarker(layout, job.jobId));
}

export interface CleanFilter {
  /** Final phases to delete; empty = COMPLETED, ERROR and ABORTED (ARCHIVED only when named). */
  phases: Phase[];
  /** Only jobs whose endTime is more than this many seconds ago; null = any. */
  olderThan: number | null;
  /** Only jobs of these definitions (union); empty = all. */
  definitions: string[];
}

const CLEANED_BY_DEFAULT: readonly Phase[] = ['COMPLETED', 'ERROR', 'ABORTED'];

/**
 * `clean`: deletes the final jobs the filter selects, each through deleteJob; a job whose
 * phase changed meanwhile (archived by its destruction) or that someone else deleted is
 * left out. Returns the deleted jobs, oldest first.
 */
export async function cleanJobs(store: Store, filter: CleanFilter, now = Date.now()): Promise<JobRecord[]> {
  const phases = filter.phases.length ? filter.phases : CLEANED_BY_DEFAULT;
  const wanted = (job: JobRecord): boolean => {
    if (!isFinal(job.phase) || !phases.includes(job.phase)) return false;
    if (filter.definitions.length && !filter.definitions.includes(job.definition)) return false;
    if (filter.olderThan === null) return true;
    return job.endTime !== null && Date.parse(job.endTime) < now - filter.olderThan * 1000;
  };
  const deleted: JobRecord[] = [];
  for (const job of store.listJobs()) {
    if (!wanted(job)) continue;
    try {
      const gone = await deleteJob(store, job.jobId, wanted);
      if (gone) deleted.push(gone);
    } catch (err) {
      if (!(err instanceof UserError && err.exitCode === EXIT.noSuchJob)) throw err;
    }
  }
  return deleted;
}

/**
 * `delete` of a job whose record is damaged, or missing from its record directory. Its
 * record cannot say what the job is doing, but its processes can still be found (from its
 * hot entry and by UWS_JOB_ID): they are terminated first, so an EXECUTING job does not
 * outlive its removal (terminateUnreadableJob). Then, under the lock, and only if the record
 * is still unreadable (a missing one only when no submit is in progress, which may be
 * writing it), its two directories are moved aside, its queue entries removed and its state
 * entries forgotten. False when it was not deleted.
 */
export async function deleteDamagedJob(store: Store, jobId: string): Promise<boolean> {
  await terminateUnreadableJob(store, jobId);
  const trash = join(store.layout.trashDir, `${jobId}.${process.pid}.${Date.now()}`);
  const deleted = store.update((tx) => {
    try {
      if (tx.store.readJobFile(jobId)) return false; // repaired or rewritten meanwhile
      if (!existsSync(tx.layout.recordDir(jobId)) || tx.state.finished[jobId] || Object.keys(tx.state.batches).length > 0) return false;
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
    }
    mkdirSync(trash, { recursive: true, mode: 0o700 });
    moveIfThere(tx.layout.jobDir(jobId), join(trash, 'job'));
    moveIfThere(tx.layout.recordDir(jobId), join(trash, 'record'));
    for (const e of readEntries(tx.layout)) if (e.jobId === jobId) tx.afterCommit.push(() => removeEntry(tx.layout, e.name));
    tx.forget(jobId);
    return true;
  });
  if (deleted) rmSync(trash, { recursive: true, force: true });
  return deleted;
}

function moveIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export async function setLimit(store: Store, text: string): Promise<number> {
  const limit = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(limit) || limit < 0 || limit > 10_000) {
    throw usageError(`limit must be a whole number from 0 (pause) to 10000, got ${JSON.stringify(text)}`);
  }
  let wake: RunnerWake | undefined;
  store.update((tx) => {
    tx.state.limit = limit;
    // A resumed HOME (or a raised limit) starts its queued jobs at once, as after `run`;
    // a paused one needs no runner for them (needsRunner).
    if (needsRunner(tx.state, tx.layout)) wake = runnerWakeFor(tx);
  }, true);
  if (wake) await wakeRunner(store.home, wake);
  return limit;
}
