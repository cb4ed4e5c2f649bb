// The registry's cheap half: each executor's facts (executors/executor.ts ExecutorFacts),
// by name. Plain data that imports no executor code, for the queue (run/queue.ts) and the
// runner's bookkeeping; what an executor does is found through index.ts.

import type { ExecutorName } from '../definitions/schema.js';
import type { StateData } from '../store/state.js';
import type { ExecutorFacts } from './executor.js';
import { localFacts } from './local/facts.js';
import { slurmFacts } from './slurm/facts.js';

const FACTS: Record<ExecutorName, ExecutorFacts> = { local: localFacts, slurm: slurmFacts };

/** The facts of a job's executor (a record, a hot entry; absent: local). */
export const executorFacts = (of: { executor?: ExecutorName | undefined }): ExecutorFacts => FACTS[of.executor ?? 'local'];

export const allExecutorFacts = (): readonly ExecutorFacts[] => Object.values(FACTS);

/**
 * Entries of the state a runner must watch: EXECUTING jobs, QUEUED ones an executor holds
 * (handed over to Slurm), and the executors' own work (Slurm's cancels to confirm).
 */
export function activeInState(state: StateData): number {
  let n = 0;
  for (const hot of Object.values(state.jobs)) if (hot.phase === 'EXECUTING' || executorFacts(hot).watchesQueued) n++;
  for (const facts of allExecutorFacts()) n += facts.pendingWork(state);
  return n;
}
