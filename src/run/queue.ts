// Which queued jobs may start now: FIFO by the order in which they were queued, bounded by
// the HOME-wide limit, skipping only jobs whose definition is at its own maxRunning.

import type { HotEntry } from '../core/job.js';

export function selectJobsToStart(jobs: Record<string, HotEntry>, limit: number): string[] {
  const running = new Map<string, number>();
  let executing = 0;
  const queued: [string, HotEntry][] = [];
  for (const [id, hot] of Object.entries(jobs)) {
    if (hot.phase === 'EXECUTING') {
      executing++;
      running.set(hot.definition, (running.get(hot.definition) ?? 0) + 1);
    } else if (hot.phase === 'QUEUED') {
      queued.push([id, hot]);
    }
  }
  queued.sort((a, b) => (a[1].queuedAt ?? 0) - (b[1].queuedAt ?? 0));
  const chosen: string[] = [];
  for (const [id, hot] of queued) {
    if (executing >= limit) break;
    const mine = running.get(hot.definition) ?? 0;
    if (hot.maxRunning !== null && mine >= hot.maxRunning) continue;
    chosen.push(id);
    executing++;
    running.set(hot.definition, mine + 1);
  }
  return chosen;
}
