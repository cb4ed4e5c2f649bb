// What Slurm says about its jobs, read from its text interfaces (the JSON ones of Slurm 22.05
// are unreliable and change with every release), and what that means for a uwsrun job
// (SPEC §11):
//   squeue -h -t all -j ID,ID,... -o '%i|%T|%r|%S|%e'   one line per job Slurm still knows
//   sacct -X -n -P -j ID -o JobIDRaw,State,ExitCode     (-c: the jobcomp file) once it forgot
// Slurm forgets a finished job after MinJobAge (300 s by default); the exit status file the
// wrapper writes into the job's records is the primary source of how a job ended.

import type { ErrorSummary } from '../../core/job.js';

export interface SlurmJobState {
  slurmJobId: string;
  /** PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT... */
  state: string;
  reason: string;
  /** Slurm's exit code "N:S" where known (sacct), else ''. */
  exitCode: string;
}

/** States in which the batch job no longer runs. */
const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'PREEMPTED', 'DEADLINE', 'SPECIAL_EXIT', 'REVOKED']);
/** States in which it has not started on a node yet. */
const WAITING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SUSPENDED']);

export const slurmEnded = (state: string): boolean => ENDED.has(baseState(state));
export const slurmWaiting = (state: string): boolean => WAITING.has(baseState(state));

/** `CANCELLED by 1000` (sacct) is CANCELLED. */
const baseState = (state: string): string => state.split(' ')[0]!.replace(/\+$/, '');

/** The lines of `squeue -h -o '%i|%T|%r|%S|%e'`, by Slurm job id. */
export function parseSqueue(stdout: string): Map<string, SlurmJobState> {
  const jobs = new Map<string, SlurmJobState>();
  for (const line of stdout.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (!id || !state || !/^\d+$/.test(id)) continue;
    jobs.set(id, { slurmJobId: id, state, reason: reason ?? '', exitCode: '' });
  }
  return jobs;
}

/** The lines of `sacct -X -n -P -o JobIDRaw,State,ExitCode,Reason`. */
export function parseSacct(stdout: string): Map<string, SlurmJobState> {
  const jobs = new Map<string, SlurmJobState>();
  for (const line of stdout.split('\n')) {
    const [id, state, exitCode, reason] = line.trim().split('|');
    if (!id || !state || !/^\d+$/.test(id)) continue;
    jobs.set(id, { slurmJobId: id, state: baseState(state), reason: reason ?? '', exitCode: exitCode ?? '' });
  }
  return jobs;
}

/**
 * Slurm end states that decide the phase whatever the wrapper wrote (SPEC §11): Slurm's own
 * SIGTERM at a time limit must not read as an ERROR of the command. COMPLETED and FAILED are
 * not among them: there the command's own status (the exit file) is the truth. Undefined:
 * the wrapper's status decides.
 */
export function slurmVerdict(s: SlurmJobState, cancelledByUs: boolean): { phase: 'ABORTED' | 'ERROR'; errorSummary: ErrorSummary } | undefined {
  const state = baseState(s.state);
  const why = s.reason && s.reason !== 'None' ? ` (reason: ${s.reason})` : '';
  const fatal = (message: string) => ({ phase: 'ERROR' as const, errorSummary: { type: 'fatal' as const, message } });
  const transient = (message: string) => ({ phase: 'ERROR' as const, errorSummary: { type: 'transient' as const, message } });
  switch (state) {
    case 'TIMEOUT':
      return { phase: 'ABORTED', errorSummary: { type: 'transient', message: `Slurm ended the job at its time limit (--time): TIMEOUT${why}` } };
    case 'OUT_OF_MEMORY':
      return fatal(`Slurm ended the job: OUT_OF_MEMORY${why}`);
    case 'NODE_FAIL': case 'BOOT_FAIL': case 'PREEMPTED':
      return transient(`Slurm ended the job: ${state}${why}`);
    case 'CANCELLED':
      return cancelledByUs ? undefined : fatal(`Slurm ended the job: CANCELLED, not by uwsrun${why}`);
    case 'DEADLINE':
      return fatal(`Slurm ended the job: DEADLINE${why}`);
    default:
      return undefined;
  }
}

/** When there is no exit status: Slurm's own account of a job that ended without one. */
export function slurmOnlyVerdict(s: SlurmJobState): { phase: 'COMPLETED' | 'ERROR'; exitCode: number | null; errorSummary: ErrorSummary | null } {
  const state = baseState(s.state);
  const m = /^(\d+):(\d+)$/.exec(s.exitCode);
  const code = m ? Number(m[1]) : null;
  if (state === 'COMPLETED') return { phase: 'COMPLETED', exitCode: code ?? 0, errorSummary: null };
  const why = s.reason && s.reason !== 'None' ? ` (reason: ${s.reason})` : '';
  return {
    phase: 'ERROR', exitCode: code,
    errorSummary: { type: 'fatal', message: `Slurm says the job ${state}${s.exitCode ? ` with exit code ${s.exitCode}` : ''}${why}, and it left no exit status (its batch script never ran, or ran where it could not write the HOME)` },
  };
}
