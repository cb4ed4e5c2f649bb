// The slurm executor as every process sees it (ExecutorKind, executors/executor.ts): its
// facts (facts.ts); abort of a job not started (ABORTED here, its cancel owned by the state)
// or started (abortRequested; scancel follows); `hold` refused while Slurm holds the job.
// Nothing here loads execa: the runner's side (executor.ts) and abort's scancel calls
// (abort.ts) are imported on first use.

import { writeFileSync } from 'node:fs';
import { isoNow } from '../../core/job.js';
import type { ExecutorKind } from '../executor.js';
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
    // Not chosen by the queue yet (or PENDING, HELD): nothing of it is in Slurm.
    if (!hot) return abortAtOnce(tx, job, to);
    if (job.phase === 'QUEUED' || job.startTime === null) {
      // Not started in Slurm (pending, or its batch job not yet running the command): cancelled,
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
  holdRefusal(tx, job) {
    const hot = tx.state.jobs[job.jobId];
    // In Slurm's hands (SPEC §11): a hold here would leave its Slurm job unwatched.
    if (job.phase !== 'QUEUED' || !hot) return undefined;
    return `job ${job.jobId} is QUEUED in Slurm (${hot.slurmJobId ? `Slurm job ${hot.slurmJobId}` : 'being handed over'}): hold is not allowed; abort it, or hold it in Slurm (scontrol hold)`;
  },
  // A retried Slurm job is handed over afresh: a new batch job.
  retryReset: { record: { slurmJobId: null }, hot: { handoverAt: null } },
};
