// The state changes users ask for besides submit and abort: run (PENDING -> QUEUED),
// delete, and the HOME-wide limit. Each is one transaction; refusals come from the
// transition table and leave everything unchanged.

import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type JobRecord } from './job.js';
import { applyTransition, isFinal } from './phases.js';
import { noSuchJob, usageError } from '../errors.js';
import type { Store } from '../store/state.js';
import { SYNCFS_FROM, prepareSyncfs } from '../store/syncfs.js';
import { needsRunner, runnerWakeFor, wakeRunner, type RunnerWake } from '../run/ensure-runner.js';
import { abortJob } from '../run/abort.js';

/** Queues PENDING jobs (FIFO); returns, per id, the queued job or the refusal. */
export async function runJobs(store: Store, ids: string[]): Promise<(JobRecord | Error)[]> {
  // Many records written in the transaction are synced with syncfs(2) (store/syncfs.ts).
  if (ids.length >= SYNCFS_FROM) await prepareSyncfs();
  let wake: RunnerWake | undefined;
  const outcome = store.update((tx) => {
    const results = ids.map((id): JobRecord | Error => {
      try {
        const job = tx.getJob(id);
        if (!job) throw noSuchJob(id);
        const queued = { ...job, phase: applyTransition(job, 'run').to };
        tx.putHot(queued, { queuedAt: ++tx.state.queueSeq });
        return queued;
      } catch (err) {
        return err as Error;
      }
    });
    if (results.some((r) => !(r instanceof Error))) wake = runnerWakeFor(tx);
    return results;
  });
  if (wake) await wakeRunner(store.home, wake);
  return outcome;
}

/** Aborts the job if it is active, then removes its record and directory. */
export async function deleteJob(store: Store, jobId: string): Promise<JobRecord> {
  let job = store.getJob(jobId);
  if (!job) throw noSuchJob(jobId);
  if (!isFinal(job.phase)) {
    try {
      job = await abortJob(store, jobId);
    } catch (err) {
      // It became final on its own meanwhile; delete it all the same.
      if (!(err instanceof Error && 'exitCode' in err && err.exitCode === 4)) throw err;
    }
  }
  // Under the lock the directory is only moved aside (one rename); removing its contents,
  // which may be large, happens after the lock is released.
  const trash = join(store.layout.trashDir, `${jobId}.${process.pid}.${Date.now()}`);
  const deleted = store.update((tx) => {
    const now = tx.getJob(jobId);
    if (!now) throw noSuchJob(jobId);
    mkdirSync(tx.layout.trashDir, { recursive: true, mode: 0o700 });
    renameSync(tx.layout.jobDir(jobId), trash);
    tx.forget(jobId);
    return now;
  });
  rmSync(trash, { recursive: true, force: true });
  return deleted;
}

export async function setLimit(store: Store, text: string): Promise<number> {
  const limit = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw usageError(`limit must be a whole number from 1 to 10000, got ${JSON.stringify(text)}`);
  }
  let wake: RunnerWake | undefined;
  store.update((tx) => {
    tx.state.limit = limit;
    if (needsRunner(tx.state, tx.layout)) wake = runnerWakeFor(tx);
  }, true);
  if (wake) await wakeRunner(store.home, wake);
  return limit;
}
