// The runner's view of queued jobs that may have to wait before they start (dependencies, a
// start time: core/gate.ts). Such a job's queue entry is marked (`w`, store/queue-dir.ts),
// so the other jobs of the queue cost nothing here. The mechanism, kept in memory:
//   - a marked entry's record is read once, when the runner first lists it: its `after`,
//     `notBefore` and `retryAfter` never change while it is queued;
//   - `dependents` maps each dependency to the entries waiting on it; a job's end is a
//     finished record appearing in state.json (every end goes through one), and wakes
//     exactly the entries waiting on that job, which are judged again;
//   - a dependency's phase is taken from the state in hand (hot entry, finished record),
//     else from its record, read once and cached: a job outside state.json changes only by
//     ending (a finished record) or vanishing (a delete, which changes the state's `moved`
//     counter, after which the cache is dropped and every waiting entry judged again);
//   - entries waiting for a time are judged again once the earliest of those times came,
//     and the runner sleeps until then (nextTime) when nothing else needs it.
// A dependency that ended other than required, or vanished, ABORTs the waiting job through
// the table's dependency-failed row, in the same transaction; its own dependents are then
// judged in the same pass, so a failure runs down a whole chain at once.

import { type GateVerdict, type GatedJob, type DependencyState, dependencyFailure, gateFields, queuedJobGate } from '../core/gate.js';
import { isoNow } from '../core/job.js';
import { applyTransition } from '../core/phases.js';
import { DamagedRecordError } from '../errors.js';
import type { Transaction } from '../store/state.js';
import { type QueueEntry, removeEntry } from '../store/queue-dir.js';

interface Waiter {
  entry: QueueEntry;
  job: GatedJob;
  verdict: GateVerdict;
}

export class WaitingJobs {
  /** Marked entries whose record was read, by entry name. */
  private readonly waiters = new Map<string, Waiter>();
  /** Dependency id -> names of the entries that wait on it. */
  private readonly dependents = new Map<string, Set<string>>();
  /** Phases of dependencies that are not in state.json, as last read. */
  private readonly phases = new Map<string, DependencyState>();
  /** Finished records seen in the last pass (a new one is a job's end). */
  private seenFinished = new Set<string>();
  private moved = -1;
  private listing: readonly QueueEntry[] | undefined;
  /** The earliest instant a waiter waits for (ms); Infinity when none. */
  nextTime = Infinity;

  /**
   * Judges the marked entries of `queue` again where something they wait for changed, and
   * ABORTs those whose dependency failed (`say` gets a line for runner.log each). Returns
   * the names of the entries it took out of the queue, and whether any verdict changed.
   */
  settle(tx: Transaction, queue: readonly QueueEntry[], say: (line: string) => void, now = Date.now()): { removed: Set<string>; changed: boolean } {
    // The usual queue, where no job waits: nothing to do.
    // (Its cached phases go: nothing keeps them current while no job waits.)
    if (this.waiters.size === 0 && queue === this.listing) {
      this.phases.clear();
      return { removed: new Set(), changed: false };
    }
    const dirty = new Set<string>();
    if (tx.state.moved !== this.moved) {
      // A job left state.json without a trace (deleted, or its final record moved into its
      // job.json): every cached phase may be stale.
      this.moved = tx.state.moved;
      this.phases.clear();
      for (const name of this.waiters.keys()) dirty.add(name);
    }
    if (queue !== this.listing) this.learn(tx, queue, dirty);
    const finished = Object.keys(tx.state.finished);
    for (const id of finished) if (!this.seenFinished.has(id)) this.wake(id, dirty);
    if (now >= this.nextTime) {
      for (const [name, w] of this.waiters) if ('until' in w.verdict && w.verdict.until <= now) dirty.add(name);
    }
    const removed = new Set<string>();
    let changed = false;
    // Aborting one job wakes its dependents: judged in this same pass.
    while (dirty.size > 0) {
      const name = dirty.values().next().value as string;
      dirty.delete(name);
      const w = this.waiters.get(name);
      if (!w) continue;
      const verdict = queuedJobGate(w.job, (id) => this.phaseOf(tx, id), now);
      if (JSON.stringify(verdict) !== JSON.stringify(w.verdict)) changed = true;
      w.verdict = verdict;
      if (!('failed' in verdict)) continue;
      this.forget(name);
      removed.add(name);
      const aborted = abortForDependency(tx, w.entry, verdict.failed);
      if (aborted) {
        say(`job ${w.entry.jobId}: aborted: ${aborted}`);
        this.wake(w.entry.jobId, dirty);
      }
    }
    this.seenFinished = new Set(Object.keys(tx.state.finished));
    this.nextTime = Infinity;
    for (const w of this.waiters.values()) if ('until' in w.verdict) this.nextTime = Math.min(this.nextTime, w.verdict.until);
    return { removed, changed };
  }

  /**
   * The runner itself moved final records it had seen into their job.json (the state's
   * `moved` went from `before` to `after`): no dependency vanished, nothing to judge again.
   */
  movedByRunner(before: number, after: number): void {
    if (this.moved === before) this.moved = after;
  }

  /** Whether a marked entry may start now (an entry not judged here: let the start look at it). */
  mayStart(entry: QueueEntry): boolean {
    const w = this.waiters.get(entry.name);
    return !w || w.verdict.eligible;
  }

  /** A marked entry started (or went stale): it waits no more. */
  forget(name: string): void {
    const w = this.waiters.get(name);
    if (!w) return;
    this.waiters.delete(name);
    for (const dep of w.job.after ?? []) {
      const set = this.dependents.get(dep.jobId);
      set?.delete(name);
      if (set?.size === 0) this.dependents.delete(dep.jobId);
    }
  }

  /** New marked entries are read; those gone from the listing are forgotten. */
  private learn(tx: Transaction, queue: readonly QueueEntry[], dirty: Set<string>): void {
    this.listing = queue;
    const listed = new Set<string>();
    for (const entry of queue) {
      if (!entry.waits) continue;
      listed.add(entry.name);
      if (this.waiters.has(entry.name)) continue;
      let job;
      try {
        job = tx.getJob(entry.jobId);
      } catch (err) {
        if (!(err instanceof DamagedRecordError)) throw err;
        continue; // the start finds it damaged and says so (runner.ts)
      }
      // Not queued at this place any more: a stale entry, dropped by the start.
      if (!job || job.phase !== 'QUEUED' || (job.queuedAt ?? 0) !== entry.queuedAt) continue;
      const gated = gateFields(job);
      this.waiters.set(entry.name, { entry, job: gated, verdict: { eligible: true } });
      for (const dep of gated.after ?? []) {
        let set = this.dependents.get(dep.jobId);
        if (!set) this.dependents.set(dep.jobId, (set = new Set()));
        set.add(entry.name);
      }
      dirty.add(entry.name);
    }
    for (const name of [...this.waiters.keys()]) if (!listed.has(name)) this.forget(name);
  }

  private wake(jobId: string, dirty: Set<string>): void {
    this.phases.delete(jobId);
    for (const name of this.dependents.get(jobId) ?? []) dirty.add(name);
  }

  private phaseOf(tx: Transaction, jobId: string): DependencyState {
    const hot = tx.state.jobs[jobId];
    if (hot) return { phase: hot.phase, exitCode: null };
    const done = tx.state.finished[jobId];
    if (done) return { phase: done.phase, exitCode: done.exitCode };
    if (this.phases.has(jobId)) return this.phases.get(jobId)!;
    let state: DependencyState;
    try {
      const job = tx.getJob(jobId);
      state = job ? { phase: job.phase, exitCode: job.exitCode } : null;
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      // Its record cannot be read: nobody can tell how it ended, so its dependents wait
      // (doctor names it; once repaired or deleted they are judged again).
      state = { phase: 'UNKNOWN', exitCode: null };
    }
    this.phases.set(jobId, state);
    return state;
  }
}

/**
 * The dependency-failed row: the QUEUED job is ABORTED with a transient errorSummary naming
 * the dependency and its phase (SPEC §13). Returns that message, or undefined when the
 * entry was stale (its job no longer queued at that place: then only the entry goes).
 */
function abortForDependency(tx: Transaction, entry: QueueEntry, failed: { jobId: string; phase: import('../core/phases.js').Phase | null }): string | undefined {
  const job = tx.getJob(entry.jobId);
  if (!job || job.phase !== 'QUEUED' || (job.queuedAt ?? 0) !== entry.queuedAt) {
    removeEntry(tx.layout, entry.name);
    return undefined;
  }
  const row = applyTransition(job, 'dependency-failed');
  const message = dependencyFailure(failed);
  tx.finish({ ...job, phase: row.to, endTime: isoNow(), errorSummary: { type: 'transient', message } });
  return message;
}
