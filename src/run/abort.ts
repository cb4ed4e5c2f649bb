// Aborting a job, the DaCHS way (SPEC §2, §5), through the job's executor (executors/index.ts):
// the transition table decides whether the abort is allowed at all; what it means for the
// job's processes is the executor's (local: signals to its process group on this machine,
// executors/local/abort.ts; slurm: scancel, executors/slurm/kind.ts and abort.ts):
//   not started (PENDING, QUEUED, HELD) -> ABORTED at once, by this side;
//   starting (startTime null)           -> the parent is in charge: it is stopped (SIGTERM,
//                                          scancel) and the aborting side marks ABORTED;
//   started                             -> the child is in control: SIGINT, a harder stop
//                                          after killGrace, ABORTED once nothing of it runs.
// The escalation belongs to the state, not to the command that asked: every path records
// abortRequested (when), and whoever supervises the job (this command while it waits, the
// runner, `tick` when no runner lives) escalates once killGrace has passed, so a job's
// processes die even when the `abort` command itself was killed in its grace period.
// abortJob returns only when nothing of the job runs. Whoever sees that first (this command
// or the runner) records the end; the other finds the job final.

import { existsSync } from 'node:fs';
import type { JobRecord } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import { noSuchJob } from '../errors.js';
import type { Store, Transaction } from '../store/state.js';
import { appendRunnerLog } from './runner-log.js';
import { nudgeRunner } from './ensure-runner.js';
import { type ProcessTable, describeProcesses, jobProcesses, signalJob } from './signal.js';
import type { AbortStep } from '../executors/executor.js';
import { executorKind } from '../executors/index.js';
import { killAfterGrace } from '../executors/local/abort.js';

const POLL_MS = 10;

/**
 * The time-driven half of abort for `tick` (the runner's executors do it themselves):
 * executionDuration, and the escalation after killGrace, where the job's executor has this
 * side do it. Returns what it did, or undefined.
 */
export function enforceTimeLimits(tx: Transaction, job: JobRecord, now = Date.now(), table?: ProcessTable): string | undefined {
  return executorKind(job).enforceTimeLimits?.(tx, job, now, table);
}

function abortStep(tx: Transaction, jobId: string, onlyIf?: (job: JobRecord) => boolean): AbortStep {
  const job = tx.getJob(jobId);
  if (!job) throw noSuchJob(jobId);
  if (onlyIf && !onlyIf(job)) return { done: job };
  const row = applyTransition(job, 'abort');
  return executorKind(job).abortStep(tx, job, row.to);
}

/**
 * Aborts one job and waits until nothing of it runs. Returns the job as it ended. With
 * `onlyIf`, a job that no longer satisfies it when the abort is decided (under the lock) is
 * returned as it is, not aborted (destruction moved later meanwhile).
 */
export async function abortJob(store: Store, jobId: string, onlyIf?: (job: JobRecord) => boolean): Promise<JobRecord> {
  const step = await startAbort(store, jobId, onlyIf);
  if ('done' in step) {
    if (step.after) await step.after(store);
    return step.done;
  }
  return executorKind(step.waitFor).awaitAbort(store, step.waitFor);
}

/**
 * The abort without the wait (`PHASE=ABORT` over HTTP): a PENDING or QUEUED job is ABORTED
 * when this returns; a running one has had its signal and abortRequested recorded, so its
 * supervisor (the runner) escalates after killGrace and records ABORTED. Returns the job as
 * it is then.
 */
export async function requestJobAbort(store: Store, jobId: string): Promise<JobRecord> {
  const step = await startAbort(store, jobId);
  if ('done' in step) {
    // What follows (Slurm's scancel) goes on in the background (a server process lives on).
    if (step.after) void step.after(store).catch(() => {});
    return step.done;
  }
  executorKind(step.waitFor).abortRequested(store, step.waitFor);
  return step.waitFor;
}

async function startAbort(store: Store, jobId: string, onlyIf?: (job: JobRecord) => boolean): Promise<AbortStep> {
  // A job that ended a moment ago, unrecorded yet by its supervisor (busy or dead), gets its
  // own end recorded first (its own transaction), so the abort is refused as for any final
  // job (SPEC §2). Its files are read before the lock is taken, and only when it looks ended.
  const seen = store.getJob(jobId);
  const early = seen?.phase === 'EXECUTING' && !seen.abortRequested ? executorKind(seen).endedUnrecorded(store, seen) : undefined;
  // Each transaction with its lock taken ahead in the server (Store.lockAhead): the first
  // finds the one handed over at once, without awaiting, so the server never sleeps on it.
  if (early) {
    const ready = store.lockAhead();
    if (ready) await ready;
    store.update(early);
  }
  const ready = store.lockAhead();
  if (ready) await ready;
  const step = store.update((tx) => abortStep(tx, jobId, onlyIf));
  if ('done' in step) nudgeRunner(store.readState());
  return step;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The grace between SIGTERM and SIGKILL for a job whose own killGrace cannot be read. */
const UNREADABLE_GRACE_MS = 5_000;

/**
 * Ends the processes of a job whose record is damaged or missing, before `delete` removes
 * it (SPEC §5: no job leaves a process behind; §8: delete removes such a job): they are found
 * as for abort, from the hot entry in state.json (its leader's pid and start time, the one
 * part of it that may still be sound) and by UWS_JOB_ID in /proc. Its own killGrace is in the
 * record that cannot be read, so the built-in one applies: SIGTERM, SIGKILL after 5 s.
 * Returns when none is left; exit 1 naming them when some may not be signalled (EPERM) or
 * survive SIGKILL.
 */
export async function terminateUnreadableJob(store: Store, jobId: string): Promise<void> {
  // Only a job of this HOME: an id unknown here names no process to end.
  if (!existsSync(store.layout.recordDir(jobId))) return;
  const hot = store.readState().jobs[jobId];
  const job = { jobId, pid: hot?.pid ?? null, pidStart: hot?.pidStart ?? null };
  let procs = jobProcesses(job);
  if (procs.length === 0) return;
  appendRunnerLog(store.layout, `job ${jobId}: delete of a job whose record cannot be read: SIGTERM to ${describeProcesses(procs)}`);
  const since = Date.now();
  signalJob(job, 'SIGTERM', true);
  for (; procs.length > 0; procs = jobProcesses(job)) {
    killAfterGrace(job, procs, Date.now() - since, UNREADABLE_GRACE_MS);
    await sleep(POLL_MS);
  }
}
