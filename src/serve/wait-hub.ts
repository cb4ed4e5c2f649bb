// Blocking WAIT without polling per request (SPEC §12, UWS 1.1 §2.2.1.1). Every blocked
// request is a Waiter on its job, registered here; one fs.watch on HOME learns of every
// replacement of state.json (each phase change is a state write: a run counts queueSeq up,
// a start adds a hot entry, an end or abort adds a finished record, a delete counts `moved`),
// and one check, a few ms later so that a burst of writes costs one, re-reads the state
// once and the phase of each waited-for job: from the state when it is there (EXECUTING,
// or final), else from its job.json, read again only when queueSeq or `moved` changed (as
// core/watch.ts does). Waiters whose job left the phase they saw, or vanished, are released.
// A change that touches only a job's job.json (a QUEUED job held: its queue entry goes) is
// seen by a second watch, on HOME/queue/: an entry's name carries its job id, whose record
// is then read again. A backstop check every BACKSTOP_MS while anyone waits re-reads every
// waited job's record (anything else) and starts a runner if active jobs lost theirs.
// A waiter also ends at its own deadline (a timer), when its client goes away, when a
// fifth request of the same caller waits on the same job (the oldest is let go: at most
// MAX_PER_JOB_AND_CALLER block at once), and when the server stops (releaseAll).

import { type FSWatcher, existsSync, watch } from 'node:fs';
import { beingDeleted } from '../core/deleting.js';
import type { Phase } from '../core/phases.js';
import { DamagedRecordError } from '../errors.js';
import type { StateData, Store } from '../store/state.js';
import { superviseIfOrphaned } from '../run/ensure-runner.js';
import { parseEntry } from '../store/queue-dir.js';

export const MAX_PER_JOB_AND_CALLER = 4;
const COALESCE_MS = 3;
// Tests set it out of reach, to tell a change the watches saw from one the backstop found.
const BACKSTOP_MS = Number(process.env.UWSRUN_TEST_WAIT_BACKSTOP_MS) || 5_000;

interface Waiter {
  jobId: string;
  caller: string;
  /** The phase the request saw: a different one (or none: deleted) releases it. */
  phase: Phase;
  release: () => void;
}

export class WaitHub {
  private readonly byJob = new Map<string, Waiter[]>();
  private watcher: FSWatcher | undefined;
  private queueWatcher: FSWatcher | undefined;
  /** Waited-for jobs whose queue entry changed: their record is read again at the next check. */
  private readonly dirty = new Set<string>();
  private backstop: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private readonly records = new Map<string, { key: string; phase: Phase | undefined }>();

  constructor(private readonly store: Store) {}

  start(): void {
    this.watcher = watch(this.store.home, (_event, name) => {
      if (name === 'state.json') this.schedule();
    });
    this.watcher.on('error', () => { /* the backstop goes on */ });
    try {
      this.store.layout.ensureQueueDir();
      this.queueWatcher = watch(this.store.layout.queueDir, (_event, name) => {
        const jobId = name ? parseEntry(name)?.jobId : undefined;
        if (jobId === undefined || !this.byJob.has(jobId)) return;
        this.dirty.add(jobId);
        this.schedule();
      });
      this.queueWatcher.on('error', () => { /* the backstop goes on */ });
    } catch { /* the backstop alone */ }
    this.backstop = setInterval(() => {
      if (this.byJob.size === 0) return;
      this.check(true);
      void Promise.resolve().then(() => superviseIfOrphaned(this.store.home, this.store.readState())).catch(() => { /* next time */ });
    }, BACKSTOP_MS);
    this.backstop.unref();
  }

  /** How many requests are blocked now. */
  get size(): number {
    let n = 0;
    for (const list of this.byJob.values()) n += list.length;
    return n;
  }

  /**
   * Resolves when the job leaves `phase` (or vanishes), after `ms`, when `gone` fires (the
   * client disconnected), when a newer request of the same caller pushes it out, or at stop.
   */
  wait(jobId: string, caller: string, phase: Phase, ms: number, gone: (cancel: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const list = this.byJob.get(jobId) ?? [];
      const mine = list.filter((w) => w.caller === caller);
      if (mine.length >= MAX_PER_JOB_AND_CALLER) mine[0]!.release();
      const timer = setTimeout(() => waiter.release(), ms);
      const waiter: Waiter = {
        jobId,
        caller,
        phase,
        release: () => {
          clearTimeout(timer);
          this.remove(waiter);
          resolve();
        },
      };
      const now = this.byJob.get(jobId) ?? [];
      now.push(waiter);
      this.byJob.set(jobId, now);
      gone(waiter.release);
    });
  }

  /** Lets every blocked request answer now (the server is stopping). */
  releaseAll(): void {
    for (const list of [...this.byJob.values()]) for (const w of [...list]) w.release();
  }

  close(): void {
    this.watcher?.close();
    this.queueWatcher?.close();
    if (this.backstop) clearInterval(this.backstop);
    if (this.pending) clearTimeout(this.pending);
  }

  private remove(waiter: Waiter): void {
    const list = this.byJob.get(waiter.jobId);
    if (!list) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) {
      this.byJob.delete(waiter.jobId);
      this.records.delete(waiter.jobId);
    }
  }

  private schedule(): void {
    if (this.pending || this.byJob.size === 0) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.check(false);
    }, COALESCE_MS);
  }

  private check(force: boolean): void {
    let state: StateData;
    try {
      state = this.store.readState();
    } catch {
      return; // unreadable for a moment: the next write or the backstop looks again
    }
    const key = `${state.queueSeq}/${state.moved}`;
    for (const [jobId, list] of [...this.byJob]) {
      const phase = this.phaseOf(state, jobId, key, force);
      // ABORTED by a delete still under way (or whose record it has just moved aside): the
      // job is about to vanish, and its waiters answer 404 then (core/deleting.ts).
      if (phase === 'ABORTED' && (beingDeleted(this.store.layout, jobId) || !existsSync(this.store.layout.recordDir(jobId)))) continue;
      for (const w of [...list]) if (w.phase !== phase) w.release();
    }
  }

  /** The job's phase now, undefined when it is gone (or its record unreadable). */
  private phaseOf(state: StateData, jobId: string, key: string, force: boolean): Phase | undefined {
    const done = state.finished[jobId];
    if (done) return done.phase;
    const hot = state.jobs[jobId];
    if (hot) return hot.phase;
    const seen = this.records.get(jobId);
    const changed = this.dirty.delete(jobId);
    if (seen && seen.key === key && !force && !changed) return seen.phase;
    let phase: Phase | undefined;
    try {
      phase = this.store.jobFrom(state, jobId)?.phase;
    } catch (err) {
      // Damaged: its waiters answer now (and are told). Unreadable for another reason: look
      // again at the next check.
      if (!(err instanceof DamagedRecordError)) return seen?.phase;
    }
    this.records.set(jobId, { key, phase });
    return phase;
  }
}
