// Why a QUEUED job has not started yet, in words for `show`. The runner's queue (queue.ts)
// starts queued jobs FIFO within the HOME-wide limit, skipping jobs whose definition is at
// its own maxRunning; each rule below names one thing that can hold a job back, judged from
// what the runner judges by: the limit, the EXECUTING jobs, and the job's place in the queue.
// The first rule that applies is the answer. What the job's own gate says (a dependency,
// its notBefore, a retry's delay: core/gate.ts, the same function the runner asks) comes
// right after a paused HOME: it holds the job back even when a slot is free.

import type { JobRecord } from '../core/job.js';
import { type GateVerdict, dependencyFailure } from '../core/gate.js';

export interface QueueView {
  /** The job asked about (its record, hot fields merged). */
  job: Pick<JobRecord, 'jobId' | 'phase' | 'definition' | 'maxRunning' | 'after'>;
  /** What its gate says now; absent: nothing of its own holds it. */
  gate?: GateVerdict;
  /** The HOME-wide limit (0 = paused). */
  limit: number;
  /** The definition of each EXECUTING job of the HOME. */
  executing: readonly string[];
  /** How many QUEUED jobs that may start are ahead of it in the queue (waiting ones hold no place). */
  queuedBefore: number;
}

type WaitRule = (view: QueueView) => string | null;

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** An instant for people, with how far off it is: 2026-12-01 03:00:00 UTC (in 2h05m). */
function untilText(ms: number, now: number): string {
  const s = Math.max(0, Math.ceil((ms - now) / 1000));
  const away = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC (in ${away})`;
}

function gateReason({ job, gate }: QueueView): string | null {
  if (!gate || gate.eligible) return null;
  if ('failed' in gate) return `${dependencyFailure(gate.failed)}: it will be ABORTED`;
  if ('dependency' in gate) {
    const { jobId, phase } = gate.dependency;
    const any = job.after?.find((d) => d.jobId === jobId)?.any;
    return `it waits for job ${jobId} (${phase}) to ${any ? 'end' : 'be COMPLETED'}`;
  }
  // A retried job (run/retry.ts): its failed attempt's end + retryDelay.
  if (gate.why === 'retryDelay') return `retry delay until ${untilText(gate.until, Date.now())}`;
  return `its notBefore: not started before ${untilText(gate.until, Date.now())}`;
}

const RULES: WaitRule[] = [
  ({ limit }) => (limit === 0 ? 'the HOME is paused (limit 0): no job starts until `uwsrun limit N` sets N > 0' : null),
  gateReason,
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
