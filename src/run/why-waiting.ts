// Why a QUEUED job has not started yet, in words for `show`. The runner's queue (queue.ts)
// starts queued jobs FIFO within the HOME-wide limit, skipping jobs whose definition is at
// its own maxRunning; each rule below names one thing that can hold a job back, judged from
// what the runner judges by: the limit, the EXECUTING jobs, and the job's place in the queue.
// The first rule that applies is the answer. Later kinds of waiting (dependencies,
// notBefore, a retry's delay) are one more rule each.

import type { JobRecord } from '../core/job.js';

export interface QueueView {
  /** The job asked about (its record, hot fields merged). */
  job: Pick<JobRecord, 'jobId' | 'phase' | 'definition' | 'maxRunning'>;
  /** The HOME-wide limit (0 = paused). */
  limit: number;
  /** The definition of each EXECUTING job of the HOME. */
  executing: readonly string[];
  /** How many QUEUED jobs are ahead of it in the queue. */
  queuedBefore: number;
}

type WaitRule = (view: QueueView) => string | null;

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

const RULES: WaitRule[] = [
  ({ limit }) => (limit === 0 ? 'the HOME is paused (limit 0): no job starts until `uwsrun limit N` sets N > 0' : null),
  ({ limit, executing }) => (executing.length >= limit ? `the HOME's limit is reached: ${executing.length}/${limit} jobs executing` : null),
  ({ job, executing }) => {
    if (job.maxRunning === null) return null;
    const mine = executing.filter((definition) => definition === job.definition).length;
    return mine >= job.maxRunning ? `its definition ${job.definition} is at its maxRunning: ${mine}/${job.maxRunning} executing` : null;
  },
  ({ queuedBefore }) => (queuedBefore > 0 ? `${plural(queuedBefore, 'job is', 'jobs are')} queued before it` : null),
];

/** Why the job waits; null when it is not QUEUED or nothing holds it (it starts any moment). */
export function whyWaiting(view: QueueView): string | null {
  if (view.job.phase !== 'QUEUED') return null;
  for (const rule of RULES) {
    const reason = rule(view);
    if (reason) return reason;
  }
  return null;
}
