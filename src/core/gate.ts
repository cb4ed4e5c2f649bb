// The start gate of a QUEUED job (SPEC §13, §6): may it start now, and if not, until when
// or for what? One function, queuedJobGate, answers for the runner's queue, for `show`'s
// "why queued", and for every kind of waiting (a retry's delay is one more time rule).
// A job waits for its dependencies (`after`: each listed job COMPLETED, or with `any`
// merely final) and for its start time (`notBefore`). A dependency that ended other than
// required, or that no longer exists (deleted, destroyed), means the job can never start:
// the verdict is `failed`, and the caller ABORTs the job through the table's
// dependency-failed row. The gate judges other jobs by their phase alone, through a lookup
// the caller provides (the runner answers from the state in hand and a cache, `show` from
// the records), so it reads nothing itself and does not care which executor runs a job.
// A job that may not start yet holds no slot and does not block the jobs behind it: the
// queue skips it (run/queue.ts).

import type { Dependency, JobRecord } from './job.js';
import { type Phase, isFinal } from './phases.js';

/** What the gate needs to know of another job; null when it does not exist (any more). */
export type DependencyState = { phase: Phase; exitCode: number | null } | null;

/** The phase (and exit code) of a job by id, as the caller knows it. */
export type DependencyLookup = (jobId: string) => DependencyState;

/** The fields of a job the gate looks at. */
export type GatedJob = Pick<JobRecord, 'after' | 'notBefore' | 'retryAfter'>;

export type GateVerdict =
  | { eligible: true }
  /** A dependency ended other than required (phase) or vanished (phase null): ABORT the job. */
  | { eligible: false; failed: { jobId: string; phase: Phase | null } }
  /** A dependency is not done yet. */
  | { eligible: false; dependency: { jobId: string; phase: Phase } }
  /** Not before this instant (ms since the epoch). */
  | { eligible: false; until: number; why: 'notBefore' | 'retryDelay' };

/** What the gate looks at of a job, and nothing else (the runner keeps this much in memory per waiting job). */
export const gateFields = (job: GatedJob): GatedJob =>
  ({ after: job.after ?? [], notBefore: job.notBefore ?? null, retryAfter: job.retryAfter ?? null });

/** Whether a job has anything to wait for at all: most have not, and cost the queue nothing. */
export function mayWait(job: GatedJob): boolean {
  return (job.after?.length ?? 0) > 0 || (job.notBefore ?? null) !== null || (job.retryAfter ?? null) !== null;
}

/** COMPLETED, or ARCHIVED after a COMPLETED end (exit code 0), as `wait` counts it. */
const completed = (dep: NonNullable<DependencyState>): boolean =>
  dep.phase === 'COMPLETED' || (dep.phase === 'ARCHIVED' && dep.exitCode === 0);

/**
 * The gate. Failed dependencies first (the job will never start, whatever its start time),
 * then dependencies not done, in the order listed, then the start time.
 */
export function queuedJobGate(job: GatedJob, lookup: DependencyLookup, now = Date.now()): GateVerdict {
  let waitingFor: { jobId: string; phase: Phase } | undefined;
  for (const { jobId, any } of job.after ?? []) {
    const dep = lookup(jobId);
    if (dep === null) return { eligible: false, failed: { jobId, phase: null } };
    if (!isFinal(dep.phase)) {
      waitingFor ??= { jobId, phase: dep.phase };
      continue;
    }
    if (!any && !completed(dep)) return { eligible: false, failed: { jobId, phase: dep.phase } };
  }
  if (waitingFor) return { eligible: false, dependency: waitingFor };
  const notBefore = job.notBefore ? Date.parse(job.notBefore) : NaN;
  if (notBefore > now) return { eligible: false, until: notBefore, why: 'notBefore' };
  // A retried job (run/retry.ts): its failed attempt's end + retryDelay.
  const retryAfter = job.retryAfter ? Date.parse(job.retryAfter) : NaN;
  if (retryAfter > now) return { eligible: false, until: retryAfter, why: 'retryDelay' };
  return { eligible: true };
}

/** The transient errorSummary of a job aborted by the gate (SPEC §13). */
export function dependencyFailure(failed: { jobId: string; phase: Phase | null }): string {
  return failed.phase === null ? `dependency ${failed.jobId} was deleted` : `dependency ${failed.jobId} ended ${failed.phase}`;
}

/** The dependencies of `--after` and `--after-any`, each once (a job listed by both must be COMPLETED). */
export function dependencyList(after: readonly string[], afterAny: readonly string[]): Dependency[] {
  const deps = new Map<string, Dependency>();
  for (const jobId of after) deps.set(jobId, { jobId, any: false });
  for (const jobId of afterAny) if (!deps.has(jobId)) deps.set(jobId, { jobId, any: true });
  return [...deps.values()];
}
