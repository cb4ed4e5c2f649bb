// Why a QUEUED job has not started yet, in words for `show`. The runner's queue (queue.ts)
// starts queued jobs FIFO within the HOME-wide limit, skipping jobs whose definition is at
// its own maxRunning; each rule below names one thing that can hold a job back, judged from
// the same hot entries the runner reads. The first rule that applies is the answer. Later
// kinds of waiting (dependencies, notBefore, a retry's delay) are one more rule each.

import type { HotEntry } from '../core/job.js';

export interface QueueView {
  jobId: string;
  /** The HOME-wide limit (0 = paused). */
  limit: number;
  jobs: Record<string, HotEntry>;
}

type WaitRule = (view: QueueView, me: HotEntry) => string | null;

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

const executing = (jobs: Record<string, HotEntry>, definition?: string): number =>
  Object.values(jobs).filter((h) => h.phase === 'EXECUTING' && (definition === undefined || h.definition === definition)).length;

const RULES: WaitRule[] = [
  ({ limit }) => (limit === 0 ? 'the HOME is paused (limit 0): no job starts until `uwsrun limit N` sets N > 0' : null),
  ({ limit, jobs }) => {
    const running = executing(jobs);
    return running >= limit ? `the HOME's limit is reached: ${running}/${limit} jobs executing` : null;
  },
  ({ jobs }, me) => {
    if (me.maxRunning === null) return null;
    const running = executing(jobs, me.definition);
    return running >= me.maxRunning ? `its definition ${me.definition} is at its maxRunning: ${running}/${me.maxRunning} executing` : null;
  },
  ({ jobId, jobs }, me) => {
    const ahead = Object.entries(jobs).filter(([id, h]) => id !== jobId && h.phase === 'QUEUED' && (h.queuedAt ?? 0) < (me.queuedAt ?? 0)).length;
    return ahead > 0 ? `${plural(ahead, 'job is', 'jobs are')} queued before it` : null;
  },
];

/** Why the QUEUED job `view.jobId` waits; null when it is not QUEUED or nothing holds it (it starts any moment). */
export function whyWaiting(view: QueueView): string | null {
  const me = view.jobs[view.jobId];
  if (me?.phase !== 'QUEUED') return null;
  for (const rule of RULES) {
    const reason = rule(view, me);
    if (reason) return reason;
  }
  return null;
}
