// Aborting a job, the DaCHS way (SPEC §2, §5):
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
// abortRequested (when), and whoever supervises the job (this command while it waits, the
// runner every 250 ms, `tick` every minute) sends SIGKILL once killGrace has passed, so a
// job's processes die even when the `abort` command itself was killed in its grace period.
// abortJob returns only when every process of the job is gone. Whoever sees them gone first
// (this command or the runner) records the end; the other finds the job final.
// A job of the slurm executor keeps the same rule with Slurm's means (SPEC §11, abortSlurmJob
// below): not started (QUEUED in Slurm's hands, or EXECUTING with startTime null) ->
// scancel, and this side marks ABORTED; started -> `scancel --signal=INT --full`, a plain
// scancel after killGrace, and ABORTED once Slurm says the batch job ended.

import { existsSync, writeFileSync } from 'node:fs';
import { type JobRecord, executorOf, isoNow } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import { EXIT, UserError, noSuchJob } from '../errors.js';
import type { Store, Transaction } from '../store/state.js';
import { readExitFile, readStartMarker, recordEnd, recordStart } from './lifecycle.js';
import { isProcessAlive } from './proc.js';
import { gatherEndFacts } from './job-files.js';
import { appendRunnerLog } from './runner-log.js';
import { nudgeRunner, superviseIfOrphaned } from './ensure-runner.js';
import { type ProcessTable, describeProcesses, jobProcesses, signalJob } from './signal.js';

const POLL_MS = 10;
/** How long SIGKILL may take to remove a process before abort gives up on it (SPEC §5). */
const KILL_TIMEOUT_MS = 10_000;

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
  // The runner's slurm executor does this for Slurm jobs (executors/slurm/executor.ts).
  if (executorOf(job) === 'slurm') return undefined;
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

type AbortStep = { done: JobRecord; cancel?: { slurmJobId: string | null } } | { waitFor: JobRecord };

function abortStep(tx: Transaction, jobId: string, onlyIf?: (job: JobRecord) => boolean): AbortStep {
  const job = tx.getJob(jobId);
  if (!job) throw noSuchJob(jobId);
  if (onlyIf && !onlyIf(job)) return { done: job };
  const row = applyTransition(job, 'abort');
  const hot = tx.state.jobs[jobId];
  if (hot?.executor === 'slurm' && (job.phase === 'QUEUED' || job.startTime === null)) {
    // Not started in Slurm (pending, or its batch job not yet running the command): cancelled,
    // and marked ABORTED here; scancel follows once this is written.
    // The cancel is the state's from here on (state.slurmCancels): whoever supervises Slurm
    // jobs sends scancel again until Slurm confirms the job gone, should this side's fail.
    const aborted = { ...job, phase: row.to, endTime: isoNow() };
    tx.finish(aborted);
    tx.state.slurmCancels = { ...tx.state.slurmCancels, [jobId]: { slurmJobId: job.slurmJobId ?? null, since: aborted.endTime } };
    // Should its batch job start before a scancel gets through, it runs nothing (batch.pl).
    tx.afterCommit.push(() => {
      try {
        writeFileSync(`${tx.layout.recordDir(jobId)}/cancelled`, `${aborted.endTime}\n`, { mode: 0o600 });
      } catch { /* its record directory is gone: the batch job then cannot run it either */ }
    });
    return { done: aborted, cancel: { slurmJobId: job.slurmJobId ?? null } };
  }
  if (hot?.executor === 'slurm') {
    if (!job.abortRequested) tx.putHot({ ...job, abortRequested: isoNow() });
    return { waitFor: tx.getJob(jobId) ?? job };
  }
  if (job.phase !== 'EXECUTING') {
    // QUEUED, yet started: its runner died before recording the start. It is executing,
    // and still starting as far as anyone knows.
    const started = job.phase === 'QUEUED' ? readStartMarker(tx.layout, jobId) : undefined;
    if (!started) {
      const aborted = { ...job, phase: row.to, endTime: isoNow() };
      tx.finish(aborted);
      return { done: aborted };
    }
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
  const step = await startAbort(store, jobId, onlyIf);
  if ('done' in step) {
    if (step.cancel) await cancelSlurmJob(store, jobId, step.cancel.slurmJobId);
    return step.done;
  }
  if (executorOf(step.waitFor) === 'slurm') return abortSlurmJob(store, step.waitFor);
  return waitForAbort(store, jobId, step.waitFor);
}

/**
 * The abort without the wait (`PHASE=ABORT` over HTTP): a PENDING or QUEUED job is ABORTED
 * when this returns; a running one has had its signal and abortRequested recorded, so its
 * supervisor (the runner) sends SIGKILL after killGrace and records ABORTED. Returns the job
 * as it is then.
 */
export async function requestJobAbort(store: Store, jobId: string): Promise<JobRecord> {
  const step = await startAbort(store, jobId);
  if ('done' in step) {
    // Slurm's part goes on in the background (a server process lives on).
    if (step.cancel) void cancelSlurmJob(store, jobId, step.cancel.slurmJobId).catch(() => {});
    return step.done;
  }
  if (executorOf(step.waitFor) === 'slurm') {
    // SIGINT through Slurm now; the runner sends the plain scancel after killGrace.
    void interruptSlurmJob(store, step.waitFor).catch(() => {});
    return step.waitFor;
  }
  appendRunnerLog(store.layout, abortLogLine(step.waitFor));
  return step.waitFor;
}

const abortLogLine = (job: JobRecord): string =>
  `job ${job.jobId}: abort requested (pid ${job.pid}${job.startTime === null ? ', starting: SIGTERM' : ': SIGINT'})`;

async function startAbort(store: Store, jobId: string, onlyIf?: (job: JobRecord) => boolean): Promise<AbortStep> {
  // A job that ended a moment ago, unrecorded yet by its supervisor (busy or dead), gets its
  // own end recorded first (its own transaction), so the abort is refused as for any final
  // job (SPEC §2).
  // Its files are read before the lock is taken (job-files.ts), and only when it looks ended.
  const seen = store.getJob(jobId);
  const early = seen?.phase === 'EXECUTING' && executorOf(seen) === 'local' && !seen.abortRequested && (readExitFile(store.layout, jobId)
    || (seen.pid !== null && !isProcessAlive(seen.pid, seen.pidStart))) ? gatherEndFacts(store.layout, jobId) : undefined;
  // Each transaction with its lock taken ahead in the server (Store.lockAhead): the first
  // finds the one handed over at once, without awaiting, so the server never sleeps on it.
  if (early) {
    const ready = store.lockAhead();
    if (ready) await ready;
    store.update((tx) => {
      const job = tx.getJob(jobId);
      if (job?.phase === 'EXECUTING' && !job.abortRequested && hasEnded(tx, job)) recordEnd(tx, jobId, undefined, early);
    });
  }
  const ready = store.lockAhead();
  if (ready) await ready;
  const step = store.update((tx) => abortStep(tx, jobId, onlyIf));
  if ('done' in step) nudgeRunner(store.readState());
  return step;
}

async function waitForAbort(store: Store, jobId: string, job: JobRecord): Promise<JobRecord> {
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
    const waited = Date.now() - since;
    if (waited >= graceMs) {
      // A process we may not signal (SPEC §5): reported like one that survives SIGKILL.
      const denied = signalJob(job, 'SIGKILL', true);
      if (denied.length > 0 && procs.every((p) => denied.some((d) => d.pid === p.pid))) {
        throw new UserError(`job ${jobId}: cannot signal process ${describeProcesses(denied)}: not permitted (EPERM)`, EXIT.failed);
      }
    }
    if (waited >= graceMs + KILL_TIMEOUT_MS) {
      throw new UserError(`job ${jobId}: processes survived SIGKILL: ${describeProcesses(procs)}`, EXIT.failed);
    }
    await sleep(POLL_MS);
  }
}

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
    const waited = Date.now() - since;
    if (waited >= UNREADABLE_GRACE_MS) {
      const denied = signalJob(job, 'SIGKILL', true);
      if (denied.length > 0 && procs.every((p) => denied.some((d) => d.pid === p.pid))) {
        throw new UserError(`job ${jobId}: cannot signal process ${describeProcesses(denied)}: not permitted (EPERM)`, EXIT.failed);
      }
    }
    if (waited >= UNREADABLE_GRACE_MS + KILL_TIMEOUT_MS) {
      throw new UserError(`job ${jobId}: processes survived SIGKILL: ${describeProcesses(procs)}`, EXIT.failed);
    }
    await sleep(POLL_MS);
  }
}

/**
 * A Slurm job that had not started: cancelled by id, or by name while its id is unknown. A
 * scancel that fails (the controller does not answer) is no failure of the abort: the job is
 * ABORTED and its cancel is in the state, retried by the runner (started here if none runs)
 * until Slurm confirms the job gone.
 */
async function cancelSlurmJob(store: Store, jobId: string, slurmJobId: string | null): Promise<void> {
  const { slurmSignal, cancelByName } = await import('../executors/slurm/executor.js');
  const failed = slurmJobId ? await slurmSignal(slurmJobId, 'cancel') : await cancelByName(jobId);
  const retried = failed && !/already completing or completed|Invalid job id/i.test(failed);
  appendRunnerLog(store.layout, `job ${jobId}: aborted before it started in Slurm: scancel ${slurmJobId ?? `--name=uwsrun-${jobId}`}${failed ? ` failed: ${failed}` : ''}${retried ? '; the runner retries it until Slurm confirms the job gone' : ''}`);
  await superviseIfOrphaned(store.home, store.readState());
}

/** `scancel --signal=INT --full`: SIGINT to every process of a started Slurm job. */
async function interruptSlurmJob(store: Store, job: JobRecord): Promise<void> {
  const { slurmSignal } = await import('../executors/slurm/executor.js');
  appendRunnerLog(store.layout, `job ${job.jobId}: abort requested (Slurm job ${job.slurmJobId}: scancel --signal=INT --full)`);
  const failed = await slurmSignal(job.slurmJobId!, 'interrupt');
  if (failed && !/already completing or completed|Invalid job id/i.test(failed)) {
    throw new UserError(`job ${job.jobId}: scancel --signal=INT --full ${job.slurmJobId} failed: ${failed}`, EXIT.failed);
  }
}

/** How long Slurm may take to end a batch job after the plain scancel (its KillWait and more). */
const SLURM_END_TIMEOUT_MS = 60_000;

/**
 * A started Slurm job: SIGINT to every process of the batch job, a plain scancel after
 * killGrace, and ABORTED once Slurm reports the batch job ended (recorded by whoever sees it
 * first, this command or the runner).
 */
async function abortSlurmJob(store: Store, job: JobRecord): Promise<JobRecord> {
  const { slurmSignal, pollOne } = await import('../executors/slurm/executor.js');
  const { recordSlurmEnd } = await import('../executors/slurm/records.js');
  const jobId = job.jobId;
  const slurmJobId = job.slurmJobId!;
  await interruptSlurmJob(store, job);
  const since = Date.parse(job.abortRequested ?? isoNow());
  let killed = false;
  for (;;) {
    const now = store.getJob(jobId);
    if (!now || now.phase !== 'EXECUTING') return now ?? job;
    const seen = await pollOne(slurmJobId);
    if (seen.ended) {
      const facts = gatherEndFacts(store.layout, jobId);
      const done = store.update((tx) => {
        recordSlurmEnd(tx, jobId, seen.state, facts, true);
        return tx.getJob(jobId);
      });
      if (done && done.phase !== 'EXECUTING') return done;
    }
    const waited = Date.now() - since;
    if (!killed && waited >= job.killGrace * 1000) {
      killed = true;
      appendRunnerLog(store.layout, `job ${jobId}: still running ${job.killGrace} s after the abort: scancel ${slurmJobId}`);
      await slurmSignal(slurmJobId, 'kill');
    }
    if (waited >= job.killGrace * 1000 + SLURM_END_TIMEOUT_MS) {
      throw new UserError(`job ${jobId}: Slurm still runs job ${slurmJobId} ${Math.round(waited / 1000)} s after the abort`, EXIT.failed);
    }
    await sleep(250);
  }
}
