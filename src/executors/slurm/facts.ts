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
 * What an outage message (state.slurmOutage, from commands.ts) says is wrong, for the words
 * runner.log and `doctor` use:
 *   client      Slurm's client commands could not even be run ("cannot run sbatch: spawn
 *               sbatch ENOENT"): no Slurm client on the PATH the runner inherited;
 *   config      they ran but found no configuration to use ("sbatch found no usable Slurm
 *               configuration: ..."): typically a runner started from cron without the
 *               SLURM_CONF of the shell the definitions were tried in;
 *   controller  the controller does not answer.
 */
export type OutageKind = 'client' | 'config' | 'controller';

export function outageKind(message: string): OutageKind {
  if (/^cannot run \S+: /.test(message)) return 'client';
  if (/^\S+ found no usable Slurm configuration/.test(message)) return 'config';
  return 'controller';
}

/** The outage in words, as runner.log and the commands that met it say it. */
export const OUTAGE_WORDS: Record<OutageKind, string> = {
  client: "Slurm's client commands cannot be run",
  config: "Slurm's configuration cannot be read",
  controller: "Slurm's controller does not answer",
};

/** Its end in words (runner.log, once), up to "since WHEN)". */
export const OUTAGE_ENDED_WORDS: Record<OutageKind, string> = {
  client: "Slurm's client commands run again (they could not",
  config: "Slurm's configuration is read again (it could not be",
  controller: "Slurm's controller answers again (it did not",
};
