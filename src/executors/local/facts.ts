// The local executor's facts (executors/executor.ts ExecutorFacts): its jobs count against the
// HOME-wide limit and are looked at every SUPERVISE_MS while they run; nothing of it is in
// the state but its jobs' hot entries.

import type { ExecutorFacts } from '../executor.js';

/** How often the runner looks at running local jobs in /proc (what no event reports). */
export const SUPERVISE_MS = 250;

export const localFacts: ExecutorFacts = {
  name: 'local',
  countsAgainstHomeLimit: true,
  cycleMs: SUPERVISE_MS,
  watchesQueued: false,
  pendingWork: () => 0,
};
