// Aborting a job, the DaCHS way (SPEC §2, §5):
//   PENDING, QUEUED            -> ABORTED at once; no process involved.
//   EXECUTING, startTime null  -> the child is still starting and the parent is in charge:
//                                 SIGTERM to its group, and the aborting side marks ABORTED.
//   EXECUTING, startTime set   -> the child is in control: SIGINT to its group and the time
//                                 is recorded (abortRequested); SIGKILL after killGrace; the
//                                 phase stays EXECUTING until the group is gone, then ABORTED.
// abortJob returns only when every process of the job is gone. Whoever sees the group gone
// first (this command or the runner) records the end; the other finds the job final.

import { type JobRecord, isoNow } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import { EXIT, UserError, noSuchJob } from '../errors.js';
import type { Store, Transaction } from '../store/state.js';
import { readExitFile, readStartMarker, recordEnd } from './lifecycle.js';
import { isProcessAlive } from './proc.js';
import { gatherEndFacts } from './job-files.js';
import { jobProcesses, signalJob } from './signal.js';

const POLL_MS = 10;
/** How long SIGKILL may take to remove a process before abort gives up on it (SPEC §5). */
const KILL_TIMEOUT_MS = 10_000;

/** Marks a started job as being aborted and sends SIGINT to its group. */
export function requestAbort(tx: Transaction, job: JobRecord, reason: string | null): void {
  applyTransition(job, 'abort');
  tx.putHot({ ...job, abortRequested: isoNow() }, { abortReason: reason });
  signalJob(job, 'SIGINT');
}

/**
 * The time-driven half of abort, for whoever supervises an EXECUTING job (the runner every
 * 250 ms, `tick` every minute): past its executionDuration it is aborted like `abort`; past
 * its grace period after SIGINT, SIGKILL follows. Returns what it did, or undefined.
 */
export function enforceTimeLimits(tx: Transaction, job: JobRecord, now = Date.now()): string | undefined {
  if (!job.abortRequested && job.startTime && job.executionDuration > 0
    && now - Date.parse(job.startTime) > job.executionDuration * 1000) {
    requestAbort(tx, job, `executionDuration of ${job.executionDuration} s exceeded`);
    return `job ${job.jobId}: executionDuration of ${job.executionDuration} s exceeded: aborting`;
  }
  if (job.abortRequested && now - Date.parse(job.abortRequested) > job.killGrace * 1000 && jobProcesses(job).length > 0) {
    signalJob(job, 'SIGKILL', true);
    return `job ${job.jobId}: still alive ${job.killGrace} s after SIGINT: SIGKILL`;
  }
  return undefined;
}

type AbortStep = { done: JobRecord } | { waitFor: JobRecord };

function abortStep(tx: Transaction, jobId: string, onlyIf?: (job: JobRecord) => boolean): AbortStep {
  const job = tx.getJob(jobId);
  if (!job) throw noSuchJob(jobId);
  if (onlyIf && !onlyIf(job)) return { done: job };
  const row = applyTransition(job, 'abort');
  if (job.phase !== 'EXECUTING') {
    const aborted = { ...job, phase: row.to, endTime: isoNow() };
    tx.finish(aborted);
    // QUEUED, yet started: its runner died before recording the start. Still starting as
    // far as anyone knows: SIGTERM, as in the starting window.
    const started = job.phase === 'QUEUED' ? readStartMarker(tx.layout, jobId) : undefined;
    if (!started) return { done: aborted };
    signalJob({ jobId, ...started }, 'SIGTERM', true);
    return { waitFor: { ...aborted, ...started } };
  }
  if (job.startTime === null) {
    signalJob(job, 'SIGTERM', true);
    const aborted = { ...job, phase: row.to, endTime: isoNow() };
    tx.finish(aborted);
    return { waitFor: aborted };
  }
  if (!job.abortRequested) requestAbort(tx, job, null);
  return { waitFor: tx.getJob(jobId) ?? job };
}

/** The command has ended: its wrapper wrote how, or the wrapper itself is gone. */
function hasEnded(tx: Transaction, job: JobRecord): boolean {
  if (readExitFile(tx.layout, job.jobId)) return true;
  return job.pid !== null && !isProcessAlive(job.pid, job.pidStart);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Aborts one job and waits until its processes are gone. Returns the job as it ended. With
 * `onlyIf`, a job that no longer satisfies it when the abort is decided (under the lock) is
 * returned as it is, not aborted (destruction moved later meanwhile).
 */
export async function abortJob(store: Store, jobId: string, onlyIf?: (job: JobRecord) => boolean): Promise<JobRecord> {
  // A job that ended a moment ago, unrecorded yet by its supervisor (busy or dead), gets its
  // own end recorded first (its own transaction), so the abort is refused as for any final
  // job (SPEC §2).
  // Its files are read before the lock is taken (job-files.ts), and only when it looks ended.
  const seen = store.getJob(jobId);
  const early = seen?.phase === 'EXECUTING' && !seen.abortRequested && (readExitFile(store.layout, jobId)
    || (seen.pid !== null && !isProcessAlive(seen.pid, seen.pidStart))) ? gatherEndFacts(store.layout, jobId) : undefined;
  if (early) {
    store.update((tx) => {
      const job = tx.getJob(jobId);
      if (job?.phase === 'EXECUTING' && !job.abortRequested && hasEnded(tx, job)) recordEnd(tx, jobId, undefined, early);
    });
  }
  const step = store.update((tx) => abortStep(tx, jobId, onlyIf));
  if ('done' in step) return step.done;
  const job = step.waitFor;
  const since = Date.parse(job.abortRequested ?? isoNow());
  const graceMs = job.killGrace * 1000;
  for (;;) {
    const procs = jobProcesses(job);
    if (procs.length === 0) break;
    const waited = Date.now() - since;
    if (waited >= graceMs) signalJob(job, 'SIGKILL', true);
    if (waited >= graceMs + KILL_TIMEOUT_MS) {
      const names = procs.map((p) => `${p.pid} (${p.comm})`).join(', ');
      throw new UserError(`job ${jobId}: processes survived SIGKILL: ${names}`, EXIT.failed);
    }
    await sleep(POLL_MS);
  }
  const facts = gatherEndFacts(store.layout, jobId);
  return store.update((tx) => {
    const now = tx.getJob(jobId);
    if (now?.phase === 'EXECUTING') recordEnd(tx, jobId, undefined, facts);
    return tx.getJob(jobId) ?? job;
  });
}
