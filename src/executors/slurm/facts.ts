// The slurm executor's facts (executors/executor.ts ExecutorFacts): the HOME-wide limit does
// not count its jobs (Slurm's queue is the queue); a QUEUED job with a hot entry is in
// Slurm's hands (handed over, or being handed over: handoverAt), so a runner watches it; the
// cancels of aborted jobs (state.slurmCancels) keep a runner until Slurm confirms them; its
// jobs are polled at most once a second, so the runner need not cycle more often for them.

import type { ExecutorFacts } from '../executor.js';

export const slurmFacts: ExecutorFacts = {
  name: 'slurm',
  countsAgainstHomeLimit: false,
  cycleMs: 1_000,
  watchesQueued: true,
  pendingWork: (state) => (state.slurmCancels ? Object.keys(state.slurmCancels).length : 0),
};

/**
 * An outage message (state.slurmOutage) that says Slurm's client commands could not even be
 * run (commands.ts: "cannot run sbatch: spawn sbatch ENOENT"): no Slurm client on the PATH
 * the runner inherited, not a controller that does not answer.
 */
export const clientMissing = (message: string): boolean => /^cannot run \S+: /.test(message);
