// Watching jobs until they are final, without the lock: each poll reads state.json (small:
// executing jobs only) and, for a job not in it (PENDING, QUEUED, or final and moved out),
// that job's record, but only when a write may have changed it: a queued job leaves the
// queue through state.json (a hot entry, a finished record), so its job.json needs reading
// again only after a run (queueSeq), or a move of final records out or a delete that the
// records seen in state.json do not explain (core/moved-out.ts), which keeps `wait` on 1,000
// queued jobs from reading 1,000 files per poll, and from reading them again whenever a
// batch of finished records moves out. A poll follows
// each replacement of state.json (inotify on HOME, at most one per MIN_POLL_MS), and at
// least one every 200 ms; where inotify is not available, polls start fast and back off
// to 200 ms. A job ABORTED by a delete still under way is watched on until it is gone
// (core/deleting.ts): SPEC §9 makes that exit 3, not the exit 1 of a job that ended ABORTED.

import { type FSWatcher, existsSync, watch } from 'node:fs';
import type { JobRecord } from './job.js';
import { type Phase, isFinal } from './phases.js';
import { MovedOut } from './moved-out.js';
import { beingDeleted } from './deleting.js';
import type { StateData, Store } from '../store/state.js';
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

const MIN_POLL_MS = 10;
const MAX_POLL_MS = 200;

/** Sleeps that end early when state.json in `home` is replaced. */
class StateChanges {
  private readonly watcher: FSWatcher | undefined;
  private wake: (() => void) | undefined;
  private changed = false;

  constructor(home: string) {
    try {
      this.watcher = watch(home, (_event, name) => {
        if (name !== 'state.json') return;
        this.changed = true;
        this.wake?.();
      });
      this.watcher.on('error', () => { /* polls go on */ });
    } catch {
      this.watcher = undefined; // no HOME yet, or no inotify: polling alone
    }
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  /** Waits up to `ms`, less when state.json changed (and at least MIN_POLL_MS). */
  async sleep(ms: number): Promise<void> {
    const until = Date.now() + ms;
    if (!this.changed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
    }
    this.changed = false;
    const left = Math.min(MIN_POLL_MS, until - Date.now());
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }

  close(): void {
    this.watcher?.close();
  }
}

/**
 * What the first poll found: each job's phase (absent: no such job), and the state it read.
 * Given to `onFirstLook` before any waiting, so a caller that reports PENDING or HELD jobs
 * need not read their records a second time.
 */
export type FirstLook = (phases: ReadonlyMap<string, Phase>, state: StateData) => void;

export async function watchUntilFinal(
  store: Store,
  ids: string[],
  timeoutS: number | undefined,
  onProgress?: (p: WatchProgress) => void,
  onFirstLook?: FirstLook,
): Promise<WatchOutcome> {
  const deadline = timeoutS === undefined ? Infinity : Date.now() + timeoutS * 1000;
  const finished = new Map<string, JobRecord>();
  const vanished: string[] = [];
  let waiting = [...new Set(ids)];
  let lastSupervisionCheck = 0;
  const records = new Map<string, { gen: number; job: JobRecord }>();
  const movedOut = new MovedOut(store);
  const recordGone = new Map<string, number>(); // see deletedSoon
  const changes = new StateChanges(store.home);
  try {
    return await watchLoop();
  } finally {
    changes.close();
  }

  /**
   * ABORTED by a delete that is still under way: it is about to vanish (core/deleting.ts).
   * Also when its record directory is gone already: the delete's transaction moves it aside
   * before it commits the state this poll read; for at most 2 s, against a damaged HOME.
   */
  function deletedSoon(job: JobRecord): boolean {
    if (job.phase !== 'ABORTED') return false;
    if (beingDeleted(store.layout, job.jobId)) return true;
    if (existsSync(store.layout.recordDir(job.jobId))) return false;
    const since = recordGone.get(job.jobId) ?? Date.now();
    recordGone.set(job.jobId, since);
    return Date.now() - since < 2000;
  }

  async function watchLoop(): Promise<WatchOutcome> {
    for (let round = 0; ; round++) {
      const state = store.readState();
      if (Date.now() - lastSupervisionCheck > 2000) {
        lastSupervisionCheck = Date.now();
        await superviseIfOrphaned(store.home, state);
      }
      const gen = movedOut.generation(state);
      const first = round === 0 && onFirstLook ? new Map<string, Phase>() : undefined;
      const still: string[] = [];
      const progress: WatchProgress = { done: 0, running: 0, queued: 0, pending: 0 };
      for (const id of waiting) {
        const done = state.finished[id];
        const hot = state.jobs[id];
        if (done ?? hot) {
          first?.set(id, (done ?? hot)!.phase);
          // Its copy is older than what the state shows now: a job seen hot that leaves the
          // view by a move MovedOut explains must have its record read again.
          records.delete(id);
        }
        if (done && !deletedSoon(done)) {
          finished.set(id, done);
          continue;
        }
        if (done) {
          still.push(id);
          continue;
        }
        if (hot) {
          still.push(id);
          progress.running++;
          continue;
        }
        // PENDING and QUEUED jobs, and final ones whose record has moved out: job.json, read
        // again only when a write may have changed what it says (see MovedOut).
        const seen = records.get(id);
        // (A final one that MovedOut read at this very look to explain a move: taken from it.)
        const job = seen && seen.gen === gen ? seen.job : movedOut.finalReadAtLook(id) ?? store.jobFrom(state, id);
        if (job && !isFinal(job.phase)) records.set(id, { gen, job });
        if (job) first?.set(id, job.phase);
        if (!job) vanished.push(id);
        else if (isFinal(job.phase) && !deletedSoon(job)) finished.set(id, job);
        else if (isFinal(job.phase)) still.push(id);
        else {
          still.push(id);
          if (job.phase === 'EXECUTING') progress.running++;
          else if (job.phase === 'QUEUED') progress.queued++;
          else progress.pending++;
        }
      }
      waiting = still;
      if (first) onFirstLook!(first, state);
      progress.done = finished.size;
      onProgress?.(progress);
      if (waiting.length === 0) return { finished, vanished, timedOut: false };
      if (Date.now() >= deadline) return { finished, vanished, timedOut: true };
      const pause = changes.watching ? MAX_POLL_MS : 5 + round * 5;
      await changes.sleep(Math.min(pause, MAX_POLL_MS, Math.max(1, deadline - Date.now())));
    }
  }
}
