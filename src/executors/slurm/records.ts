// How a Slurm job's life is recorded, inside a state transaction, each step a row of the one
// transition table (core/phases.ts), exactly as for local jobs (run/lifecycle.ts):
//   handover   QUEUED -> QUEUED     slurmJobId recorded (the hot entry holds it)
//   refused    QUEUED -> ERROR      sbatch's message (fatal)
//   start      QUEUED -> EXECUTING  the batch job runs on a node (pid stays null)
//   up         startTime            the wrapper's RECORDS/up file: the command runs
//   end        from the exit file the wrapper wrote, unless Slurm's end state decides
//              (TIMEOUT, OUT_OF_MEMORY, ...); without one, from Slurm's own record; without
//              that, ERROR "lost".
// A job's own files (last stderr line, results) are read before the transaction (EndFacts).

import { statSync } from 'node:fs';
import { type JobRecord, isoNow } from '../../core/job.js';
import { applyTransition } from '../../core/phases.js';
import type { Transaction } from '../../store/state.js';
import type { HomeLayout } from '../../store/home.js';
import type { EndFacts } from '../../run/job-files.js';
import { exitFileTime, readExitFile } from '../../run/lifecycle.js';
import { type SlurmJobState, slurmOnlyVerdict, slurmVerdict } from './states.js';
import { recordRetry, retriesLeft } from '../../run/retry.js';

export const upFile = (layout: HomeLayout, jobId: string): string => `${layout.recordDir(jobId)}/up`;

/** The room the batch script's exit file holds before the wrapper writes over it (wrapper.pl EXIT_ROOM). */
const EXIT_ROOM = 512;

/**
 * What the files of a running Slurm job say, from stat()s alone (no read unless the exit
 * file was written): whether its batch script ran (RECORDS/batch), when its command started
 * (RECORDS/up), whether Slurm signalled it (RECORDS/signalled, final once RECORDS/ended is
 * there), and how the command ended
 * (RECORDS/exit, once its size is no longer EXIT_ROOM: the wrapper truncates it to its line).
 */
export interface SlurmJobNews {
  ran: boolean;
  up: string | undefined;
  signalled: boolean;
  /** The batch script is done waiting for the wrapper (RECORDS/ended): `signalled` is final. */
  batchEnded: boolean;
  /** When the exit file was written (its mtime, ms), once it is. */
  exitAt: number;
  end: ReturnType<typeof readExitFile>;
}

/** `phase`: the hot entry's (an EXECUTING job is known to have run: its `batch` is not looked at). */
export function jobNews(layout: HomeLayout, jobId: string, phase: string, upKnown: boolean): SlurmJobNews {
  const dir = layout.recordDir(jobId);
  const ran = phase !== 'QUEUED' || statSync(`${dir}/batch`, { throwIfNoEntry: false }) !== undefined;
  if (!ran) return { ran, up: undefined, signalled: false, batchEnded: false, exitAt: 0, end: undefined };
  const exit = statSync(`${dir}/exit`, { throwIfNoEntry: false });
  const written = exit !== undefined && exit.size !== EXIT_ROOM && exit.size > 0;
  // `ended` before `signalled`: the batch script writes them in the other order.
  const batchEnded = written && statSync(`${dir}/ended`, { throwIfNoEntry: false }) !== undefined;
  return {
    ran,
    up: upKnown ? undefined : upTime(layout, jobId),
    batchEnded,
    exitAt: written ? exit.mtimeMs : 0,
    signalled: written && statSync(`${dir}/signalled`, { throwIfNoEntry: false }) !== undefined,
    end: written ? readExitFile(layout, jobId) : undefined,
  };
}

/** When the command started (RECORDS/up's mtime), or undefined while it has not. */
export function upTime(layout: HomeLayout, jobId: string): string | undefined {
  try {
    return new Date(statSync(upFile(layout, jobId)).mtimeMs).toISOString();
  } catch {
    return undefined;
  }
}

export function recordHandover(tx: Transaction, job: JobRecord, slurmJobId: string): void {
  applyTransition(job, 'handover');
  tx.putHot({ ...job, slurmJobId });
}

export function recordRefused(tx: Transaction, job: JobRecord, message: string): void {
  const row = applyTransition(job, 'refused');
  tx.finish({ ...job, phase: row.to, endTime: isoNow(), errorSummary: { type: 'fatal', message: `sbatch refused the job: ${message}` } });
}

/** The batch job runs: EXECUTING, startTime null until the command is up. */
export function recordSlurmStart(tx: Transaction, job: JobRecord): JobRecord {
  const row = applyTransition(job, 'start');
  const started = { ...job, phase: row.to, pid: null, pidStart: null, startTime: null };
  tx.putHot(started);
  return tx.getJob(job.jobId) ?? started;
}

export function recordSlurmUp(tx: Transaction, job: JobRecord, at: string): void {
  if (job.phase !== 'EXECUTING' || job.startTime !== null) return;
  applyTransition(job, 'up');
  tx.putHot({ ...job, startTime: at });
}

const describeStatus = (s: { exitCode: number | null; signal: string | null }): string =>
  s.signal ? `killed by signal ${s.signal}` : `exited with status ${s.exitCode}`;

/**
 * The batch job has ended (Slurm says so, or has forgotten it). `slurm`: Slurm's last word
 * on it, if any. Returns the line for runner.log.
 */
export function recordSlurmEnd(tx: Transaction, jobId: string, slurm: SlurmJobState | undefined, facts: EndFacts, cancelledByUs: boolean, asked = true): string | undefined {
  let job = tx.getJob(jobId);
  if (!job || (job.phase !== 'EXECUTING' && job.phase !== 'QUEUED')) return undefined;
  if (job.phase === 'QUEUED') job = recordSlurmStart(tx, job);
  const up = job.startTime === null ? upTime(tx.layout, jobId) : undefined;
  if (up) {
    recordSlurmUp(tx, job, up);
    job = tx.getJob(jobId) ?? job;
  }
  const own = readExitFile(tx.layout, jobId);
  // When the command ended (its exit file's mtime), not when a poll or a successor saw it.
  const base = { ...job, endTime: own ? exitFileTime(tx.layout, job, Date.now()) : isoNow(), exitCode: own?.exitCode ?? null, signal: own?.signal ?? null, results: facts.results };
  let retried: string | undefined;
  const finish = (event: 'aborted' | 'lost' | 'exit-ok' | 'exit-failed', errorSummary: JobRecord['errorSummary'], extra: Partial<JobRecord> = {}) => {
    // A failed attempt with retries left is run again (SPEC §13), as for a local job
    // (run/retry.ts); an abort, a time limit (TIMEOUT) or a refused handover never is.
    if ((event === 'exit-failed' || event === 'lost') && retriesLeft(job!)) {
      recordRetry(tx, { ...base, ...extra }, errorSummary, (line) => (retried = line));
      return;
    }
    const row = applyTransition(job!, event);
    tx.finish({ ...base, ...extra, phase: row.to, errorSummary });
  };
  const slurmSays = slurm ? `Slurm: ${slurm.state}` : asked ? 'Slurm no longer knows it' : 'Slurm not asked: it exited by itself and was not signalled';
  if (job.abortRequested) {
    const reason = tx.state.jobs[jobId]?.abortReason ?? null;
    finish('aborted', reason ? { type: 'transient', message: reason } : null);
  } else if (slurm && slurmVerdict(slurm, cancelledByUs)) {
    const v = slurmVerdict(slurm, cancelledByUs)!;
    finish(v.phase === 'ABORTED' ? 'aborted' : 'exit-failed', v.errorSummary);
  } else if (own?.error !== undefined) {
    finish('exit-failed', { type: 'fatal', message: own.error });
  } else if (own) {
    if (own.exitCode === 0) finish('exit-ok', null);
    else {
      const line = facts.stderrLine;
      finish('exit-failed', { type: 'fatal', message: line ? `${describeStatus(own)}: ${line}` : describeStatus(own) });
    }
  } else if (slurm) {
    const v = slurmOnlyVerdict(slurm);
    finish(v.phase === 'COMPLETED' ? 'exit-ok' : 'exit-failed', v.errorSummary, { exitCode: v.exitCode });
  } else {
    finish('lost', {
      type: 'transient',
      message: `the job was lost: Slurm no longer knows job ${job.slurmJobId ?? '?'} and it left no exit status`,
    });
  }
  if (retried) return retried;
  const ended = tx.getJob(jobId);
  const how = own?.error ?? (own ? (own.signal ? `signal ${own.signal}` : `exit code ${own.exitCode}`) : 'no exit status');
  return `job ${jobId}: ended ${ended?.phase ?? '?'} (${how}; ${slurmSays})`;
}
