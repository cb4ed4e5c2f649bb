// Which queued jobs may start now: FIFO by the order in which they were queued, bounded by
// the HOME-wide limit, skipping only jobs whose definition is at its own maxRunning and jobs
// that may not start yet (their gate, core/gate.ts, judged by the caller): a job that waits
// holds no slot and does not block the jobs behind it. Jobs of the slurm executor are handed
// over, not started here: the HOME-wide limit does not count them (Slurm's queue is the
// queue), their definition's maxRunning counts those handed over (pending or running in
// Slurm), and `limit 0` stops them too (SPEC §11). Queued
// jobs are known by their entries in HOME/queue/ alone (store/queue-dir.ts), whose names
// carry the definition and its maxRunning; executing ones by their hot entries.

import type { HotEntry } from '../core/job.js';
import { executorFacts } from '../executors/facts.js';
import { type QueueEntry, definitionKey } from '../store/queue-dir.js';

/**
 * `queued` in queue order (as listed); returns the entries to start, in that order.
 * `mayStart` says whether a job that may have to wait (entry.waits) may start now.
 */
export function selectJobsToStart(
  jobs: Record<string, HotEntry>, queued: readonly QueueEntry[], limit: number, mayStart: (entry: QueueEntry) => boolean = () => true,
): QueueEntry[] {
  const running = new Map<string, number>();
  let executing = 0;
  for (const hot of Object.values(jobs)) {
    if (executorFacts(hot).countsAgainstHomeLimit) {
      if (hot.phase !== 'EXECUTING') continue;
      executing++;
    }
    const key = definitionKey(hot.definition);
    running.set(key, (running.get(key) ?? 0) + 1);
  }
  const chosen: QueueEntry[] = [];
  if (limit === 0) return chosen;
  // Slurm jobs behind a full HOME are still handed over; without any, a full HOME ends the look.
  const slurm = queued.some((e) => e.slurm);
  for (const entry of queued) {
    if (executing >= limit && !entry.slurm) {
      if (!slurm) break;
      continue;
    }
    if (jobs[entry.jobId]) continue; // started already: a stale entry
    if (entry.waits && !mayStart(entry)) continue;
    const mine = running.get(entry.defKey) ?? 0;
    if (entry.maxRunning !== null && mine >= entry.maxRunning) continue;
    chosen.push(entry);
    if (!entry.slurm) executing++;
    running.set(entry.defKey, mine + 1);
  }
  return chosen;
}
