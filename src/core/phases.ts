// The UWS 1.1 phase model and the one table of transitions (as in DaCHS's
// ProcessBasedUWSTransitions: (from, event) -> to is data, and one function applies it).
// Every phase change in uwsrun goes through applyTransition; anything not in the table is
// refused with exit 4 and leaves the job exactly as it was (unlike DaCHS, which pushes the
// job to ERROR on an illegal request).

import { EXIT, UserError } from '../errors.js';

export const PHASES = [
  'PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED',
  'HELD', 'SUSPENDED', 'UNKNOWN',
] as const;
export type Phase = (typeof PHASES)[number];

export const FINAL_PHASES: readonly Phase[] = ['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'];

export const isFinal = (phase: Phase): boolean => FINAL_PHASES.includes(phase);
export const isPhase = (text: string): text is Phase => (PHASES as readonly string[]).includes(text);

/** What can happen to a job. Names follow SPEC §2's "event" column. */
export type TransitionEvent =
  | 'run'          // PENDING -> QUEUED (a user's `run`)
  | 'start'        // QUEUED -> EXECUTING (the queue manager spawned it; pid recorded)
  | 'up'           // EXECUTING -> EXECUTING (the child is up: startTime set)
  | 'abort'        // see the rows below
  | 'hold'         // PENDING, QUEUED -> HELD (a user's `hold`)
  | 'release'      // HELD -> QUEUED, at its old queue position (a user's `release`)
  | 'dependency-failed' // QUEUED -> ABORTED (a dependency ended other than required, or vanished)
  | 'exit-ok'      // EXECUTING -> COMPLETED
  | 'exit-failed'  // EXECUTING -> ERROR (status != 0 or a signal nobody asked for)
  | 'aborted'      // EXECUTING -> ABORTED (the group is gone after an abort or a time limit)
  | 'lost'         // EXECUTING -> ERROR (ended unsupervised, no exit status written)
  | 'retry'        // EXECUTING -> QUEUED (the attempt failed and retries are left; SPEC §13)
  | 'archive'      // final -> ARCHIVED (destruction with archive: true)
  | 'handover'     // QUEUED -> QUEUED (handed to a cluster scheduler: slurmJobId recorded)
  | 'refused';     // QUEUED -> ERROR (the scheduler refused the handover)

/** Conditions a row may need besides the phase. */
export type Guard = 'starting' | 'started';

export interface Transition {
  from: Phase;
  event: TransitionEvent;
  to: Phase;
  guard?: Guard;
  /** What happens, in SPEC §2's words; printed by tests and docs. */
  does: string;
}

export const TRANSITIONS: readonly Transition[] = [
  { from: 'PENDING', event: 'run', to: 'QUEUED', does: 'queued behind earlier queued jobs' },
  { from: 'PENDING', event: 'abort', to: 'ABORTED', does: 'endTime set; no process involved' },
  { from: 'QUEUED', event: 'abort', to: 'ABORTED', does: 'endTime set; no process involved' },
  { from: 'PENDING', event: 'hold', to: 'HELD', does: 'not started until released' },
  { from: 'QUEUED', event: 'hold', to: 'HELD', does: 'not started until released' },
  { from: 'HELD', event: 'release', to: 'QUEUED', does: 'back in the queue at its original queue position' },
  { from: 'HELD', event: 'abort', to: 'ABORTED', does: 'endTime set; no process involved' },
  {
    from: 'QUEUED', event: 'dependency-failed', to: 'ABORTED',
    does: 'errorSummary (transient) names the dependency and its phase',
  },
  { from: 'QUEUED', event: 'start', to: 'EXECUTING', does: 'process spawned; pid recorded; startTime null' },
  { from: 'QUEUED', event: 'handover', to: 'QUEUED', does: 'slurmJobId recorded; the scheduler holds it; no process yet' },
  { from: 'QUEUED', event: 'refused', to: 'ERROR', does: "errorSummary (fatal): the scheduler's message" },
  { from: 'EXECUTING', event: 'up', to: 'EXECUTING', guard: 'starting', does: 'the child is up: startTime set' },
  {
    from: 'EXECUTING', event: 'abort', to: 'ABORTED', guard: 'starting',
    does: 'SIGTERM to the process group; the aborting side marks ABORTED',
  },
  {
    from: 'EXECUTING', event: 'abort', to: 'EXECUTING', guard: 'started',
    does: 'SIGINT to the process group, SIGKILL after killGrace; EXECUTING until the group is gone',
  },
  { from: 'EXECUTING', event: 'aborted', to: 'ABORTED', does: 'the group is gone: endTime set' },
  { from: 'EXECUTING', event: 'exit-ok', to: 'COMPLETED', does: 'endTime, exitCode, results recorded' },
  { from: 'EXECUTING', event: 'exit-failed', to: 'ERROR', does: 'errorSummary (fatal): status or signal, last stderr line' },
  { from: 'EXECUTING', event: 'lost', to: 'ERROR', does: 'errorSummary (transient): the job was lost' },
  {
    from: 'EXECUTING', event: 'retry', to: 'QUEUED',
    does: 'the attempt failed and retries are left: kept in attempts; started again after retryDelay',
  },
  { from: 'COMPLETED', event: 'archive', to: 'ARCHIVED', does: 'directory deleted, record kept' },
  { from: 'ERROR', event: 'archive', to: 'ARCHIVED', does: 'directory deleted, record kept' },
  { from: 'ABORTED', event: 'archive', to: 'ARCHIVED', does: 'directory deleted, record kept' },
];

export interface PhaseState {
  jobId: string;
  phase: Phase;
  startTime: string | null;
}

const guardHolds = (guard: Guard | undefined, job: PhaseState): boolean =>
  guard === undefined || (guard === 'starting' ? job.startTime === null : job.startTime !== null);

/** The row that applies to `event` for this job, or undefined when the table has none. */
export function findTransition(job: PhaseState, event: TransitionEvent): Transition | undefined {
  return TRANSITIONS.find((t) => t.from === job.phase && t.event === event && guardHolds(t.guard, job));
}

/**
 * The one function that decides a phase change: returns the row to apply, or throws the
 * exit-4 refusal naming the job, its phase and the action. The caller applies `to` and the
 * row's side effects; nothing has been changed when this throws.
 */
export function applyTransition(job: PhaseState, event: TransitionEvent): Transition {
  const row = findTransition(job, event);
  if (!row) {
    throw new UserError(
      `job ${job.jobId} is ${job.phase}: ${event} is not allowed in that phase`,
      EXIT.notAllowed,
    );
  }
  return row;
}

/** What `set` may change, and in which phases (SPEC §9). Not transitions: the phase stays. */
export const SETTABLE: Readonly<Record<'parameters' | 'executionDuration' | 'destruction', readonly Phase[]>> = {
  parameters: ['PENDING'],
  executionDuration: ['PENDING', 'QUEUED'],
  destruction: PHASES.filter((p) => p !== 'ARCHIVED'),
};

export function checkSettable(job: PhaseState, field: keyof typeof SETTABLE): void {
  if (!SETTABLE[field].includes(job.phase)) {
    throw new UserError(`job ${job.jobId} is ${job.phase}: set ${field} is not allowed in that phase`, EXIT.notAllowed);
  }
}
