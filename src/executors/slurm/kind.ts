// The slurm executor as every process sees it (ExecutorKind, executors/executor.ts): its
// facts (facts.ts); abort of a job not started (ABORTED here, its cancel owned by the state)
// or started (abortRequested; scancel follows); `hold` and `release` of a job in Slurm's
// hands, told to Slurm first (hold.ts: scontrol uhold / release), and so is a new
// executionDuration (limit.ts: scontrol update TimeLimit).
// Nothing here loads child_process: the runner's side (executor.ts), abort's scancel calls
// (abort.ts) and hold's scontrol calls (hold.ts) are imported on first use.

import { writeFileSync } from 'node:fs';
import { type JobRecord, isoNow } from '../../core/job.js';
import type { Transaction } from '../../store/state.js';
import type { ExecutorKind, OutsideStep } from '../executor.js';
import { NEWS_DELAY_MS, abortAtOnce } from '../executor.js';
import { slurmFacts } from './facts.js';

export const slurmKind: ExecutorKind = {
  ...slurmFacts,
  runner: async (ctx) => {
    const { SlurmExecutor } = await import('./executor.js');
    // Slurm's answers come one by one (30 sbatch calls at once answer within ~100 ms):
    // a cycle waits NEWS_DELAY_MS for company, so they cost one state write, not 30.
    return new SlurmExecutor(ctx.layout, (line) => ctx.log(line), () => ctx.wakeWithin(NEWS_DELAY_MS));
  },
  // Its end is Slurm's to report (the runner's poll, or this abort's own: abort.ts).
  endedUnrecorded: () => undefined,
  abortStep(tx, job, to) {
    const jobId = job.jobId;
    const hot = tx.state.jobs[jobId];
    // Not chosen by the queue yet (or PENDING, HELD before its handover): nothing of it is in Slurm.
    if (!hot && !(job.phase === 'HELD' && job.slurmJobId)) return abortAtOnce(tx, job, to);
    if (job.phase === 'QUEUED' || job.phase === 'HELD' || job.startTime === null) {
      // Not started in Slurm (pending, held there, or its batch job not yet running the command): cancelled,
      // and marked ABORTED here; scancel follows once this is written.
      // The cancel is the state's from here on (state.slurmCancels): whoever supervises Slurm
      // jobs sends scancel again until Slurm confirms the job gone, should this side's fail.
      const aborted = { ...job, phase: to, endTime: isoNow() };
      tx.finish(aborted);
      const slurmJobId = job.slurmJobId ?? null;
      tx.state.slurmCancels = { ...tx.state.slurmCancels, [jobId]: { slurmJobId, since: aborted.endTime } };
      // Should its batch job start before a scancel gets through, it runs nothing (batch.pl).
      tx.afterCommit.push(() => {
        try {
          writeFileSync(`${tx.layout.recordDir(jobId)}/cancelled`, `${aborted.endTime}\n`, { mode: 0o600 });
        } catch { /* its record directory is gone: the batch job then cannot run it either */ }
      });
      return { done: aborted, after: async (store) => (await import('./abort.js')).cancelSlurmJob(store, jobId, slurmJobId) };
    }
    if (!job.abortRequested) tx.putHot({ ...job, abortRequested: isoNow() });
    return { waitFor: tx.getJob(jobId) ?? job };
  },
  awaitAbort: async (store, job) => (await import('./abort.js')).abortSlurmJob(store, job),
  abortRequested(store, job) {
    // SIGINT through Slurm now; the runner sends the plain scancel after killGrace.
    void import('./abort.js').then(({ interruptSlurmJob }) => interruptSlurmJob(store, job)).catch(() => {});
  },
  holdOutside: async (store, job) => (await import('./hold.js')).holdInSlurm(store, job),
  releaseOutside: async (store, job) => (await import('./hold.js')).releaseInSlurm(store, job),
  // In Slurm's hands and not held there: a hold here alone would leave it to start in Slurm.
  holdRefusal: (tx, job, outside) => notToldToSlurm(tx, job, outside, 'hold', 'hold is not allowed now'),
  releaseStep(_tx, job, outside) {
    if (!job.slurmJobId) return undefined;
    // Released in Slurm (hold.ts): in Slurm's hands again, watched by the runner, never handed over twice.
    if (outside?.ref === job.slurmJobId) return { hot: { handoverAt: isoNow() } };
    return { refused: `job ${job.jobId} is HELD in Slurm (Slurm job ${job.slurmJobId}), and was held while release ran: try again` };
  },
  limitOutside: async (store, job, seconds) => (await import('./limit.js')).limitInSlurm(store, job, seconds),
  // Not in Slurm's hands yet (PENDING, or QUEUED before the queue chose it): its handover takes the new limit.
  limitRefusal: (tx, job, outside) => notToldToSlurm(tx, job, outside, 'set', 'its executionDuration cannot be changed now'),
  // A retried Slurm job is handed over afresh: a new batch job.
  retryReset: { record: { slurmJobId: null }, hot: { handoverAt: null } },
};

/**
 * For `hold` and `set --execution-duration` in the transaction: a QUEUED job in Slurm's hands
 * (a hot entry: handed over, or being handed over) must be the Slurm job its command told
 * first (hold.ts, limit.ts: `outside`); otherwise why not (exit 4). A job not in Slurm's
 * hands needs nothing of Slurm: undefined.
 */
function notToldToSlurm(tx: Transaction, job: JobRecord, outside: OutsideStep | undefined, command: string, refusal: string): string | undefined {
  const hot = tx.state.jobs[job.jobId];
  if (job.phase !== 'QUEUED' || !hot) return undefined;
  if (hot.slurmJobId && outside?.ref === hot.slurmJobId) return undefined;
  return `job ${job.jobId} is QUEUED in Slurm (${hot.slurmJobId ? `Slurm job ${hot.slurmJobId}, handed over while ${command} ran` : 'being handed over'}): ${refusal}; try again`;
}
