// Watching jobs until they are final, without the lock: each poll reads state.json (small:
// active jobs only) and, for a job no longer in it, that job's record once. Polls start
// fast (a short job is reported within milliseconds) and back off to 200 ms.

import type { JobRecord } from './job.js';
import { isFinal } from './phases.js';
import type { Store } from '../store/state.js';
import { superviseIfOrphaned } from '../run/ensure-runner.js';

export interface WatchProgress {
  done: number;
  running: number;
  queued: number;
  pending: number;
}

export interface WatchOutcome {
  /** Final records, by id. */
  finished: Map<string, JobRecord>;
  /** Ids that do not exist (or vanished while watched). */
  vanished: string[];
  timedOut: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function watchUntilFinal(
  store: Store,
  ids: string[],
  timeoutS: number | undefined,
  onProgress?: (p: WatchProgress) => void,
): Promise<WatchOutcome> {
  const deadline = timeoutS === undefined ? Infinity : Date.now() + timeoutS * 1000;
  const finished = new Map<string, JobRecord>();
  const vanished: string[] = [];
  let waiting = [...new Set(ids)];
  let lastSupervisionCheck = 0;
  for (let round = 0; ; round++) {
    const state = store.readState();
    if (Date.now() - lastSupervisionCheck > 2000) {
      lastSupervisionCheck = Date.now();
      await superviseIfOrphaned(store.home, state);
    }
    const still: string[] = [];
    const progress: WatchProgress = { done: 0, running: 0, queued: 0, pending: 0 };
    for (const id of waiting) {
      const done = state.finished[id];
      if (done) {
        finished.set(id, done);
        continue;
      }
      const hot = state.jobs[id];
      if (hot) {
        still.push(id);
        if (hot.phase === 'EXECUTING') progress.running++;
        else if (hot.phase === 'QUEUED') progress.queued++;
        else progress.pending++;
        continue;
      }
      const job = store.readJobFile(id);
      if (job && isFinal(job.phase)) finished.set(id, job);
      else vanished.push(id);
    }
    waiting = still;
    progress.done = finished.size;
    onProgress?.(progress);
    if (waiting.length === 0) return { finished, vanished, timedOut: false };
    if (Date.now() >= deadline) return { finished, vanished, timedOut: true };
    await sleep(Math.min(5 + round * 5, 200, Math.max(1, deadline - Date.now())));
  }
}
