// The UWS `quote`: when a QUEUED or EXECUTING job is expected to complete. Computed when a job
// is shown, never stored, so it cannot go stale. How the estimate is made:
//   - a definition's run time is the mean (endTime - startTime) of its last 20 COMPLETED jobs
//     (by endTime); a definition without such history gives no quote (null = "don't know");
//   - EXECUTING: startTime (now while it is still starting) + its run time, never before now;
//   - QUEUED: now + the run times of the jobs queued before it (FIFO; each at its own
//     definition's mean, or this job's when it has none) divided across the HOME-wide limit
//     of parallel jobs (or its notBefore, when that is later) + its own run time;
//   - PENDING and final jobs: null (a PENDING job may never run; a final one is done).
// Per-definition caps (maxRunning) and the time left to jobs already running are ignored:
// the quote is an estimate, and UWS allows it to be wrong.

import type { JobRecord } from '../core/job.js';

export const QUOTE_HISTORY = 20;

/** Queue position of a job: lower runs first. The default, creation order, is FIFO for jobs
 *  run in the order they were created; pass the state's queuedAt when it is at hand. */
export type QueueOrder = (job: JobRecord) => number;
const bySeq: QueueOrder = (job) => job.seq;

/** Mean run time in ms of each definition's last QUOTE_HISTORY COMPLETED jobs. */
function meanRunTimes(all: JobRecord[]): Map<string, number> {
  const runs = new Map<string, { end: number; ms: number }[]>();
  for (const j of all) {
    if (j.phase !== 'COMPLETED' || !j.startTime || !j.endTime) continue;
    const start = Date.parse(j.startTime);
    const end = Date.parse(j.endTime);
    if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) continue;
    const list = runs.get(j.definition) ?? [];
    list.push({ end, ms: end - start });
    runs.set(j.definition, list);
  }
  const means = new Map<string, number>();
  for (const [definition, list] of runs) {
    const recent = list.sort((a, b) => a.end - b.end).slice(-QUOTE_HISTORY);
    means.set(definition, recent.reduce((s, r) => s + r.ms, 0) / recent.length);
  }
  return means;
}

/**
 * Quotes for many jobs from one pass over `all` (for `list`): the history and the queue are
 * read once, so quoting every job of a listing stays O(n log n).
 */
export class QuoteModel {
  private readonly means: Map<string, number>;
  /** Queued jobs by queue order; for each prefix, the summed run time of the jobs whose
   *  definition has history and the number of those without (counted at the quoted job's). */
  private readonly queueOrders: number[] = [];
  private readonly prefixKnownMs: number[] = [0];
  private readonly prefixUnknown: number[] = [0];
  private readonly slots: number;

  constructor(all: JobRecord[], limit: number, private readonly now: Date, private readonly order: QueueOrder = bySeq) {
    this.means = meanRunTimes(all);
    this.slots = Math.max(1, Math.floor(Number.isFinite(limit) ? limit : 1));
    const queued = all.filter((j) => j.phase === 'QUEUED').map((j) => ({ order: order(j), definition: j.definition }))
      .sort((a, b) => a.order - b.order);
    for (const q of queued) {
      const ms = this.means.get(q.definition);
      this.queueOrders.push(q.order);
      this.prefixKnownMs.push(this.prefixKnownMs.at(-1)! + (ms ?? 0));
      this.prefixUnknown.push(this.prefixUnknown.at(-1)! + (ms === undefined ? 1 : 0));
    }
  }

  quoteFor(job: JobRecord): string | null {
    if (job.phase !== 'QUEUED' && job.phase !== 'EXECUTING') return null;
    const own = this.means.get(job.definition);
    if (own === undefined) return null;
    const now = this.now.getTime();
    if (job.phase === 'EXECUTING') {
      const started = job.startTime ? Date.parse(job.startTime) : Number.NaN;
      const base = Number.isFinite(started) ? started : now;
      return new Date(Math.max(base + own, now)).toISOString();
    }
    const ahead = this.countAhead(this.order(job));
    const aheadMs = this.prefixKnownMs[ahead]! + this.prefixUnknown[ahead]! * own;
    const notBefore = job.notBefore ? Date.parse(job.notBefore) : Number.NaN;
    const start = Math.max(now + aheadMs / this.slots, Number.isFinite(notBefore) ? notBefore : 0);
    return new Date(start + own).toISOString();
  }

  /** How many queued jobs come strictly before queue position `order` (binary search). */
  private countAhead(order: number): number {
    let lo = 0;
    let hi = this.queueOrders.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queueOrders[mid]! < order) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Expected completion of `job` as an ISO 8601 instant, or null when it cannot be estimated
 * (no COMPLETED history for its definition) or does not apply (PENDING or final).
 * `limit` is the HOME-wide number of parallel jobs; pure: `now` is passed in.
 */
export function estimateQuote(job: JobRecord, all: JobRecord[], limit: number, now: Date, order: QueueOrder = bySeq): string | null {
  return new QuoteModel(all, limit, now, order).quoteFor(job);
}
