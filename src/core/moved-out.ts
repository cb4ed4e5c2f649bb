// Whether a watcher's copies of job.json files are still good: jobs outside state.json's
// view (PENDING, QUEUED, HELD, or final and moved out) are known from their job.json, and
// such a job can only become final or vanish through a write that counts in the state's
// `moved` (a finished record moved into its job.json, a delete) or `queueSeq` (a run, a
// retry). Re-reading every record whenever `moved` changed made `wait` on 900 queued jobs
// read each job.json again after each batch of finished records moved out (~14 times).
//
// Most moves are of records the watcher saw in `finished` at its previous look: each
// finished record that left the view since, and whose record directory is still there, was
// moved into its job.json (one `moved` each; a delete removes the directory, a record
// dropped unwritten had none). A hot entry that left the view without passing `finished` in
// sight (a job that started and ended between two looks) counts when its job.json is now
// final. When those explain the whole rise of `moved`, no other job was moved out or deleted
// and the copies stay; anything unexplained (a delete, a restored state, a record that came
// and went twice) and every change of `queueSeq` make them stale. Counting errs one way
// only: each id counted stands for at least one rise of `moved` in the same interval. A copy
// is good only while its job stays outside the view: a watcher drops the copy of a job it
// sees in state.json (core/watch.ts), since that job's own move out is one of those explained.

import { existsSync } from 'node:fs';
import type { JobRecord } from './job.js';
import type { StateData, Store } from '../store/state.js';
import { isFinal } from './phases.js';

interface Look {
  queueSeq: number;
  moved: number;
  hot: string[];
  finished: string[];
}

export class MovedOut {
  private last: Look | undefined;
  private gen = 0;
  /** The final records read at the latest look (finalOnDisk): the watcher takes them from here instead of reading them again. */
  private readonly finalAtLook = new Map<string, JobRecord>();

  constructor(private readonly store: Store) {}

  /**
   * Takes the state of this look; returns the generation of job.json copies that are still
   * good: the same number as at the previous look when nothing outside the view may have
   * changed, a new one otherwise.
   */
  generation(state: StateData): number {
    this.finalAtLook.clear();
    const look: Look = { queueSeq: state.queueSeq, moved: state.moved, hot: Object.keys(state.jobs), finished: Object.keys(state.finished) };
    const last = this.last;
    this.last = look;
    if (!last || !this.explained(last, look, state)) this.gen++;
    return this.gen;
  }

  private explained(last: Look, look: Look, state: StateData): boolean {
    if (look.queueSeq !== last.queueSeq) return false;
    let unexplained = look.moved - last.moved;
    if (unexplained === 0) return true;
    if (unexplained < 0) return false; // an older state restored
    const inView = (id: string) => state.jobs[id] !== undefined || state.finished[id] !== undefined;
    for (const id of last.finished) {
      if (!inView(id) && existsSync(this.store.layout.recordDir(id))) unexplained--;
    }
    const wasFinished = new Set(last.finished);
    for (const id of last.hot) {
      if (inView(id) || wasFinished.has(id)) continue;
      if (unexplained <= 0) break;
      if (this.finalOnDisk(id)) unexplained--;
    }
    return unexplained === 0;
  }

  /** The record of job `id` if this look read it from its job.json and found it final. */
  finalReadAtLook(id: string): JobRecord | undefined {
    return this.finalAtLook.get(id);
  }

  private finalOnDisk(id: string): boolean {
    try {
      const file = this.store.readJobFile(id);
      if (file === undefined || !isFinal(file.phase)) return false;
      this.finalAtLook.set(id, file);
      return true;
    } catch {
      return false; // damaged: not counted, so the copies are read again
    }
  }
}
