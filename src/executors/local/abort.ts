// Abort of a local job, the DaCHS way (SPEC §2, §5), with signals to its processes on this
// machine (run/signal.ts):
//   PENDING, QUEUED            -> ABORTED at once; no process involved.
//   EXECUTING, startTime null  -> the child is still starting and the parent is in charge:
//                                 SIGTERM to its group (and escapees), and the aborting side
//                                 marks ABORTED once they are gone.
//   QUEUED with a start marker -> started by a runner that died before recording it: it is
//                                 recorded EXECUTING from the marker, then as just above.
//   EXECUTING, startTime set   -> the child is in control: SIGINT to its group and escapees;
//                                 SIGKILL after killGrace; the phase stays EXECUTING until
//                                 every process of it is gone, then ABORTED.
// The escalation belongs to the state, not to the command that asked: every path records
// abortRequested (when), and whoever supervises the job (the `abort` command while it waits,
// the runner every 250 ms, `tick` every minute) sends SIGKILL once killGrace has passed
// (enforceTimeLimits), so a job's processes die even when the `abort` command itself was
// killed in its grace period. Whoever sees them gone first (the command or the runner)
// records the end; the other finds the job final.

import { type JobRecord, isoNow } from '../../core/job.js';
import { applyTransition, type Phase } from '../../core/phases.js';
import { EXIT, UserError } from '../../errors.js';
import type { Store, Transaction } from '../../store/state.js';
import { readExitFile, readStartMarker, recordEnd, recordStart } from '../../run/lifecycle.js';
import { isProcessAlive } from '../../run/proc.js';
import { gatherEndFacts } from '../../run/job-files.js';
import { appendRunnerLog } from '../../run/runner-log.js';
import { type ProcessTable, describeProcesses, jobProcesses, signalJob } from '../../run/signal.js';
import { type AbortStep, abortAtOnce } from '../executor.js';

const POLL_MS = 10;
/** How long SIGKILL may take to remove a process before abort gives up on it (SPEC §5). */
export const KILL_TIMEOUT_MS = 10_000;

/**
 * The end of a grace period of `graceMs`, `waited` ms after the first signal, while `procs`
 * still run: SIGKILL to them (again each poll), exit 1 naming those we may not signal
 * (EPERM, SPEC §5: reported like one that survives SIGKILL), and exit 1 naming those still
 * there KILL_TIMEOUT_MS after the grace.
 */
export function killAfterGrace(job: Pick<JobRecord, 'jobId' | 'pid' | 'pidStart'>, procs: ReturnType<typeof jobProcesses>, waited: number, graceMs: number): void {
  if (waited >= graceMs) {
    const denied = signalJob(job, 'SIGKILL', true);
    if (denied.length > 0 && procs.every((p) => denied.some((d) => d.pid === p.pid))) {
      throw new UserError(`job ${job.jobId}: cannot signal process ${describeProcesses(denied)}: not permitted (EPERM)`, EXIT.failed);
    }
  }
  if (waited >= graceMs + KILL_TIMEOUT_MS) {
    throw new UserError(`job ${job.jobId}: processes survived SIGKILL: ${describeProcesses(procs)}`, EXIT.failed);
  }
}

/** Marks a started job as being aborted and sends `signal` to its group and escapees. */
export function requestAbort(tx: Transaction, job: JobRecord, reason: string | null, signal: NodeJS.Signals = 'SIGINT'): void {
  applyTransition(job, 'abort');
  tx.putHot({ ...job, abortRequested: isoNow() }, { abortReason: reason });
  signalJob(job, signal, true);
}

/**
 * The time-driven half of abort, for whoever supervises an EXECUTING job (the runner every
 * 250 ms, `tick` every minute): past its executionDuration it is aborted like `abort`; past
 * its grace period after the abort's signal, SIGKILL follows, to escapees too. Returns what
 * it did, or undefined.
 */
export function enforceTimeLimits(tx: Transaction, job: JobRecord, now = Date.now(), table?: ProcessTable): string | undefined {
  if (!job.abortRequested && job.startTime && job.executionDuration > 0
    && now - Date.parse(job.startTime) > job.executionDuration * 1000) {
    requestAbort(tx, job, `executionDuration of ${job.executionDuration} s exceeded`);
    return `job ${job.jobId}: executionDuration of ${job.executionDuration} s exceeded: aborting (SIGINT)`;
  }
  if (job.abortRequested && now - Date.parse(job.abortRequested) > job.killGrace * 1000) {
    const left = jobProcesses(job, table);
    if (left.length === 0) return undefined;
    const denied = signalJob(job, 'SIGKILL', true, table);
    const refused = denied.length > 0 ? `; cannot signal ${describeProcesses(denied)}: not permitted (EPERM)` : '';
    return `job ${job.jobId}: still alive ${job.killGrace} s after the abort: SIGKILL to ${describeProcesses(left)}${refused}`;
  }
  return undefined;
}

/** In the abort's transaction (the table's abort row allowed it; `to` is its phase). */
export function localAbortStep(tx: Transaction, job: JobRecord, to: Phase): AbortStep {
  const jobId = job.jobId;
  if (job.phase !== 'EXECUTING') {
    // QUEUED, yet started: its runner died before recording the start. It is executing,
    // and still starting as far as anyone knows.
    const started = job.phase === 'QUEUED' ? readStartMarker(tx.layout, jobId) : undefined;
    if (!started) return abortAtOnce(tx, job, to);
    recordStart(tx, job, started.pid, started.pidStart);
  }
  const leftoverSince = tx.state.jobs[jobId]?.leftoverSince;
  if (leftoverSince && !job.abortRequested) {
    // Its leader ended by itself and what it left is being terminated: the job ends with
    // the leader's status; this abort waits for that like a second abort (SPEC §2, §5).
    return { waitFor: { ...job, abortRequested: leftoverSince } };
  }
  const now = tx.getJob(jobId)!;
  if (!now.abortRequested) requestAbort(tx, now, null, now.startTime === null ? 'SIGTERM' : 'SIGINT');
  return { waitFor: tx.getJob(jobId) ?? now };
}

/**
 * A job that ended a moment ago (its exit file is there, or its leader is gone) whose end
 * its supervisor (busy or dead) has not recorded: the transaction that records it. Its
 * files are read here, before the lock is taken (job-files.ts).
 */
export function localEndedUnrecorded(store: Store, seen: JobRecord): ((tx: Transaction) => void) | undefined {
  if (!readExitFile(store.layout, seen.jobId) && !(seen.pid !== null && !isProcessAlive(seen.pid, seen.pidStart))) return undefined;
  const facts = gatherEndFacts(store.layout, seen.jobId);
  return (tx) => {
    const job = tx.getJob(seen.jobId);
    if (job?.phase === 'EXECUTING' && !job.abortRequested && hasEnded(tx, job)) recordEnd(tx, seen.jobId, undefined, facts);
  };
}

/** The command has ended: its wrapper wrote how, or the wrapper itself is gone. */
function hasEnded(tx: Transaction, job: JobRecord): boolean {
  if (readExitFile(tx.layout, job.jobId)) return true;
  return job.pid !== null && !isProcessAlive(job.pid, job.pidStart);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const abortLogLine = (job: JobRecord): string =>
  `job ${job.jobId}: abort requested (pid ${job.pid}${job.startTime === null ? ', starting: SIGTERM' : ': SIGINT'})`;

/** Waits until every process of the job is gone (SIGKILL after killGrace); records the end. */
export async function awaitLocalAbort(store: Store, job: JobRecord): Promise<JobRecord> {
  const jobId = job.jobId;
  appendRunnerLog(store.layout, abortLogLine(job));
  const since = Date.parse(job.abortRequested ?? isoNow());
  const graceMs = job.killGrace * 1000;
  for (;;) {
    const procs = jobProcesses(job);
    if (procs.length === 0) {
      const facts = gatherEndFacts(store.layout, jobId);
      await store.lockAhead();
      const ended = store.update((tx) => {
        const now = tx.getJob(jobId);
        // False when a process appeared since the scan (a fork): look again.
        return now?.phase !== 'EXECUTING' || recordEnd(tx, jobId, undefined, facts) ? tx.getJob(jobId) ?? job : undefined;
      });
      if (ended) return ended;
      continue;
    }
    killAfterGrace(job, procs, Date.now() - since, graceMs);
    await sleep(POLL_MS);
  }
}
