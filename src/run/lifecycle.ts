// How a job's life is recorded, for whoever supervises it (the runner, `abort`, `tick`):
// start, "up", and the end, each a row of the transition table applied inside a state
// transaction. The end is decided from the wrapper's `exit` file when it exists (it is the
// job's own account and survives the runner), else from what waitpid told the runner, else
// the job was lost. What the end takes from the job's own files (the last stderr line, the
// results) is read before the transaction, as EndFacts (job-files.ts): a job's files are
// never opened under the lock.
// A job is final only when none of its processes is left: what its leader
// leaves behind is terminated first (SPEC §5).

import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { type JobRecord, isoNow } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import type { Transaction } from '../store/state.js';
import type { HomeLayout } from '../store/home.js';
import type { EndFacts } from './job-files.js';
import { type EndStatus, parseExitFile } from './exit-status.js';
import { ProcessTable, describeProcesses, jobProcesses, signalJob } from './signal.js';
import { recordRetry, retriesLeft } from './retry.js';
// Registers the store's notifier: whoever records an end here spawns its notification.
import './notify.js';
import { type ProcStat, isProcessAlive, readPidMark } from './proc.js';

/** What of a /proc snapshot is still the same live process (the snapshot may be a cycle old). */
const liveOnly = (procs: ProcStat[]): ProcStat[] => procs.filter((p) => isProcessAlive(p.pid, p.startTime));

export type ExitStatus = EndStatus;

export function readExitFile(layout: HomeLayout, jobId: string): ExitStatus | undefined {
  try {
    return parseExitFile(readFileSync(layout.exitFile(jobId), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The exit status of the job's current attempt: its exit file, or, when that is gone, the
 * one kept as exit.N by a retry whose transaction was lost (run/retry.ts).
 */
function readAttemptExit(layout: HomeLayout, job: JobRecord): ExitStatus | undefined {
  const own = readExitFile(layout, job.jobId);
  if (own || existsSync(layout.exitFile(job.jobId))) return own;
  try {
    return parseExitFile(readFileSync(layout.attemptFile(job.jobId, 'exit', job.attempt ?? 1), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * When the job's current attempt ended: its exit file's mtime (written as the command
 * ended), no earlier than its startTime and no later than `now` (a clock that moved, a
 * shared filesystem's server); `now` when there is none.
 */
export function exitFileTime(layout: HomeLayout, job: JobRecord, now: number): string {
  let at: number | undefined;
  for (const file of [layout.exitFile(job.jobId), layout.attemptFile(job.jobId, 'exit', job.attempt ?? 1)]) {
    try {
      at = statSync(file).mtimeMs;
      break;
    } catch { /* the next, or none */ }
  }
  if (at === undefined || !Number.isFinite(at)) return new Date(now).toISOString();
  const from = job.startTime ? Date.parse(job.startTime) : -Infinity;
  return new Date(Math.round(Math.min(now, Math.max(from, at)))).toISOString();
}

/**
 * The job's "started" marker, created exclusively by the launcher before it forks the
 * wrapper and holding "PID STARTTIME": a job is started at most once, even when its runner
 * dies before recording the start. Undefined when the job was never started (or the marker
 * is still empty).
 */
export function readStartMarker(layout: HomeLayout, jobId: string): { pid: number; pidStart: string } | undefined {
  return readPidMark(layout.startMarker(jobId));
}

export function startMarkerAge(layout: HomeLayout, jobId: string): number {
  try {
    return Date.now() - statSync(layout.startMarker(jobId)).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * When an adopted job started, for its startTime: the marker's mtime (written right after
 * the fork), unless its command could not even be executed (startTime stays null then).
 */
export function startMarkerTime(layout: HomeLayout, jobId: string): string | undefined {
  if (readExitFile(layout, jobId)?.error !== undefined) return undefined;
  try {
    return new Date(statSync(layout.startMarker(jobId)).mtimeMs).toISOString();
  } catch {
    return undefined;
  }
}

export function removeStartMarker(layout: HomeLayout, jobId: string): void {
  try {
    unlinkSync(layout.startMarker(jobId));
  } catch { /* gone already */ }
}

const describeStatus = (s: ExitStatus): string =>
  s.signal ? `killed by signal ${s.signal}` : `exited with status ${s.exitCode}`;

export function recordStart(tx: Transaction, job: JobRecord, pid: number, pidStart: string): void {
  const row = applyTransition(job, 'start');
  tx.putHot({ ...job, phase: row.to, pid, pidStart, startTime: null });
}

export function recordUp(tx: Transaction, jobId: string, at: string): void {
  const job = tx.getJob(jobId);
  if (!job || job.phase !== 'EXECUTING' || job.startTime !== null) return;
  applyTransition(job, 'up');
  tx.putHot({ ...job, startTime: at });
}

/** Where supervision writes what an operator should read next morning (runner.log). */
export type Say = (line: string) => void;

export interface EndOptions {
  /** Told the end, and what had to be killed (the runner writes it to runner.log). */
  say?: Say;
  /** A /proc snapshot shared by the jobs of one cycle. */
  table?: ProcessTable;
  /**
   * The job's escapees as looked for after its leader ended, outside the lock (the local
   * executor's lookForEscapees): used, once checked still alive, instead of that look here.
   */
  escapees?: ProcStat[];
  now?: number;
}

/**
 * The job's group leader is gone. Returns false when the job must stay EXECUTING for now:
 * processes of it are left (in its group, or escaped). Left by an abort, they get SIGKILL
 * after killGrace from enforceTimeLimits; left by a leader that ended by itself, they get
 * SIGTERM now and SIGKILL after killGrace (SPEC §5), and the phase then comes from the
 * leader's status. A job is final only once none of its processes is left.
 */
export function recordEnd(tx: Transaction, jobId: string, observed: ExitStatus | undefined, facts: EndFacts, opts: EndOptions = {}): boolean {
  const job = tx.getJob(jobId);
  if (!job || job.phase !== 'EXECUTING') return true;
  const say = opts.say ?? (() => {});
  const own = readAttemptExit(tx.layout, job);
  // A wrapper that wrote its status has already terminated what the command left in its
  // tree (it is a subreaper: see wrapper.ts). Looked for here: an aborted job's processes
  // (escapees included), those of a wrapper that died itself, and, at every end, the
  // processes carrying the job's UWS_JOB_ID outside that tree (SPEC §5: escapees are
  // terminated at a normal end as for abort), among those started since its leader only.
  // (A job of another executor is that executor's to end: Slurm ends its job's steps.)
  const table = opts.table ?? new ProcessTable();
  const local = (job.definitionSnapshot?.executor ?? 'local') === 'local';
  const left = job.abortRequested || !own ? jobProcesses(job, table)
    : local ? liveOnly(opts.escapees ?? table.escapeesSince(jobId, job.pid, job.pidStart, job.startTime)) : [];
  if (left.length > 0) {
    if (!job.abortRequested) terminateLeftovers(tx, job, left, say, { ...opts, table });
    return false;
  }
  if (own?.left) say(`job ${jobId}: its command ended, leaving ${own.left}: terminated (SIGTERM, SIGKILL after ${job.killGrace} s)`);
  const status = own ?? observed;
  // When the command ended, by its own exit file, unless processes of it were left and
  // terminated since (then now): a successor runner, `tick` or a late look must not date
  // the end by when it noticed it.
  const endTime = own && !tx.state.jobs[jobId]?.leftoverSince ? exitFileTime(tx.layout, job, opts.now ?? Date.now()) : isoNow();
  // An exit status (not an exec failure) of a job nobody aborted means the command ran, so
  // it was up even when its "up" report was not recorded before its end (the end was found
  // by a successor): startTime is the start marker's time, at the latest the end. (A job
  // aborted while starting was killed before its command ran: its startTime stays null.)
  const ran = !job.abortRequested && status !== undefined && status.error === undefined;
  const startTime = job.startTime ?? (ran ? startMarkerTime(tx.layout, jobId) ?? endTime : null);
  const base = { ...job, startTime, endTime, exitCode: status?.exitCode ?? null, signal: status?.signal ?? null };
  if (job.abortRequested) {
    const reason = tx.state.jobs[jobId]?.abortReason ?? null;
    finishAs(tx, base, 'aborted', reason ? { type: 'transient', message: reason } : null, facts, say);
  } else if (!status) {
    finishAs(tx, base, 'lost', {
      type: 'transient',
      message: 'the job was lost: it ended while nothing supervised it and left no exit status',
    }, facts, say);
  } else if (status.error !== undefined) {
    finishAs(tx, base, 'exit-failed', { type: 'fatal', message: status.error }, facts, say);
  } else if (status.exitCode === 0) {
    finishAs(tx, base, 'exit-ok', null, facts, say);
  } else {
    const line = facts.stderrLine;
    finishAs(tx, base, 'exit-failed', { type: 'fatal', message: line ? `${describeStatus(status)}: ${line}` : describeStatus(status) }, facts, say);
  }
  const now = tx.getJob(jobId) ?? base;
  // A retried attempt said so itself (recordRetry); the job has not ended.
  if (now.phase !== 'QUEUED') say(describeEnd(now, status));
  return true;
}

/** The runner.log line of a job's end: phase, and how its command ended. */
function describeEnd(job: JobRecord, status: ExitStatus | undefined): string {
  let how: string;
  if (!status) how = job.abortRequested || job.phase === 'ABORTED' ? 'no exit status' : 'lost: no exit status';
  else if (status.error !== undefined) how = status.error;
  else how = status.signal ? `signal ${status.signal}` : `exit code ${status.exitCode}`;
  return `job ${job.jobId}: ended ${job.phase} (${how})`;
}

function terminateLeftovers(tx: Transaction, job: JobRecord, left: ProcStat[], say: Say, opts: EndOptions): void {
  const since = tx.state.jobs[job.jobId]?.leftoverSince;
  const now = opts.now ?? Date.now();
  let denied: ProcStat[] = [];
  if (!since) {
    denied = signalJob(job, 'SIGTERM', true, opts.table);
    tx.putHot(job, { leftoverSince: new Date(now).toISOString() });
    say(`job ${job.jobId}: its leader ended, leaving ${describeProcesses(left)}: SIGTERM`);
  } else if (now - Date.parse(since) > job.killGrace * 1000) {
    denied = signalJob(job, 'SIGKILL', true, opts.table);
    say(`job ${job.jobId}: still left ${job.killGrace} s after SIGTERM: ${describeProcesses(left)}: SIGKILL`);
  }
  if (denied.length > 0) say(`job ${job.jobId}: cannot signal ${describeProcesses(denied)}: not permitted (EPERM)`);
}

type EndEvent = 'aborted' | 'lost' | 'exit-ok' | 'exit-failed';

function finishAs(tx: Transaction, job: JobRecord, event: EndEvent, errorSummary: JobRecord['errorSummary'], facts: EndFacts, say: Say): void {
  // An attempt that failed by itself is run again while retries are left (SPEC §13); an
  // abort or a time limit ('aborted') never is.
  if ((event === 'exit-failed' || event === 'lost') && retriesLeft(job)) {
    recordRetry(tx, job, errorSummary, say);
    return;
  }
  const row = applyTransition(job, event);
  tx.finish({ ...job, phase: row.to, errorSummary, results: facts.results });
}
