// Job creation over HTTP, committed in groups. A submit costs mostly its durable writes
// (each job's record and directories synced with one state write, in one turn at the lock), and
// submitJobs makes many jobs of one definition for little more than one (--params-from
// does). While the server writes one creation its event loop is busy, so the requests of
// other clients that arrive meanwhile are read together in the next turn: each is queued
// here, and one setImmediate later every queued creation that can share a submit (same
// definition as loaded, same options: run or not, owner, executionDuration, no run id or
// destruction of its own) goes through one submitJobs call. A lone request waits for
// nothing but that turn. Only one flush writes at a time: the requests that arrive while
// it writes and syncs collect for the next one, which starts the moment it is done, so a
// busy server makes a few big groups instead of many small ones (each group costs one
// set of fsyncs, and at most one state transaction, however big it is, up to
// core/submit.ts ONE_TURN_MAX jobs).
// submitJobs is all or nothing, so when a group is refused for bad input, each of its
// creations is tried alone and only the one at fault is refused.
//
// Creations without --unique or dependencies (all that HTTP makes but a RUNID the caller
// wants unique) do not wait for the lock to write: their seq numbers and queue places
// come from a block this server reserved ahead (places.ts), their files are written and
// synced before the lock is taken (core/submit.ts writeReservedJobs), and one transaction
// shrinks the reservation past them: that state write is their commit, and the lock is
// held only for it. Each is checked alone first (checkSubmission), so bad input refuses
// only its own.
//
// Pipelined: a flush is done once its files are written and synced; its wait for the lock
// (the runner's lease, a CLI command) and its commit go on while the next flush already
// writes and syncs the requests that came meanwhile. Commits are one at a time
// (commitReady), and each covers every flush whose files are synced by the moment the lock
// is in hand, in the order their places were taken: a place is made visible only with all
// places before it, and only once its own files are durable. A flush whose files failed
// (a full disk) is refused and its places are passed over by the next commit (a gap in the
// seq numbers, as before). The reservation is renewed (when someone else gave out places
// meanwhile, or it is used up) only once no flush is waiting for its commit: giving the
// block back must never make places visible whose files are not durable yet.

import type { JobRecord } from '../core/job.js';
import {
  type ResolvedParameters, type SubmitOptions, checkSubmission, commitReservedJobs, removeReservedJobs, submitJobs, writeReservedJobs,
} from '../core/submit.js';
import type { Definition } from '../definitions/schema.js';
import { type Store, type Transaction, dieForTest, syncDirsAsync } from '../store/state.js';
import { EXIT, UserError } from '../errors.js';
import { LockTimeoutError } from '../store/lock.js';
import { type RunnerWake, runnerWakeForQueued, wakeRunner } from '../run/ensure-runner.js';
import { withStateLock } from './writes.js';
import { ReservedPlaces } from './places.js';

interface Creation {
  def: Definition;
  params: ResolvedParameters;
  opts: SubmitOptions;
  resolve: (job: JobRecord) => void;
  reject: (err: unknown) => void;
  /** When it came (Date.now()): one that came before a lock deadline ran out fails with it. */
  at: number;
}

/** A flush's creations that took places, from then until their commit (see the top). */
interface InFlight {
  /** The groups whose files were written, with their jobs; set once the writes settled. */
  written: Array<{ group: Creation[]; jobs: JobRecord[] }> | undefined;
  /** The first seq number and queue place after this flush's. */
  seqEnd: number;
  queueEnd: number;
}

/** Creations that may share one submitJobs call have the same key (undefined: alone). */
function groupKey(c: Creation): string | undefined {
  if (c.opts.runId !== null || c.opts.destruction !== undefined || c.opts.unique) return undefined;
  return JSON.stringify([c.def.name, c.opts.run, c.opts.ownerId, c.opts.executionDuration ?? null]);
}

export class Creations {
  private queued: Creation[] = [];
  private scheduled = false;
  private flushing = false;
  private flushed: Promise<void> = Promise.resolve();
  private readonly places: ReservedPlaces;
  /** Flushes that took places and are not committed yet, in the order of their places. */
  private readonly inFlight: InFlight[] = [];
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  /** Settles once nothing is in flight (see drained()). */
  private drainWaiters: Array<() => void> = [];
  /** Creations that go through submitJobs (--unique, dependencies), until they settle. */
  private readonly alone = new Set<Promise<void>>();
  /** The last lock deadline that ran out (see failQueued). */
  private lockFailure: { at: number; err: unknown } | undefined;

  constructor(private readonly store: Store) {
    this.places = new ReservedPlaces(store);
  }

  /** Stopping: after the flushes and commits in flight, the reservation goes back (within `ms`). */
  async close(ms: number): Promise<void> {
    await this.flushed;
    await this.drained();
    await this.committing; // the last commit's directory sync and 303s
    await Promise.all([...this.alone]);
    await this.places.release(ms);
  }

  /** Creates one job; resolves once it exists (durably), as submitJobs does. */
  create(def: Definition, params: ResolvedParameters, opts: SubmitOptions): Promise<JobRecord> {
    return new Promise((resolve, reject) => {
      this.queued.push({ def, params, opts, resolve, reject, at: Date.now() });
      this.schedule();
    });
  }

  /** The next flush: one turn from now, or when the one writing is done. */
  private schedule(): void {
    if (this.scheduled || this.flushing || this.queued.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = true;
      this.flushed = this.flush().finally(() => {
        this.flushing = false;
        this.schedule();
      });
    });
  }

  /** Resolves once this flush's files are written and synced (its commit may still be under way). */
  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    const reserved: Creation[] = [];
    for (const c of batch) {
      if (c.opts.unique || (c.opts.after?.length ?? 0) > 0) {
        // Their transactions take turns at the lock (writes.ts) beside the commits.
        const done = this.submit([c]).finally(() => this.alone.delete(done));
        this.alone.add(done);
      } else reserved.push(c);
    }
    await this.createReserved(reserved);
  }

  /** Groups of creations that share a writeReservedJobs call, in the order they came. */
  private groups(creations: Creation[]): Creation[][] {
    const groups = new Map<string, Creation[]>();
    const all: Creation[][] = [];
    for (const c of creations) {
      const key = groupKey(c);
      const group = key === undefined ? undefined : groups.get(key);
      // Only the same Definition object: a reload of the file meanwhile starts a new group.
      if (group && group[0]!.def === c.def) group.push(c);
      else {
        const fresh = [c];
        if (key !== undefined && !group) groups.set(key, fresh);
        all.push(fresh);
      }
    }
    return all;
  }

  /** See the top comment: places from the reservation, files first, commits for all ready. */
  private async createReserved(creations: Creation[]): Promise<void> {
    const ok = creations.filter((c) => {
      try {
        checkSubmission(this.store, c.def, c.params, c.opts);
        return true;
      } catch (err) {
        c.reject(err);
        return false;
      }
    });
    if (ok.length === 0) return;
    const groups = this.groups(ok);
    const all = groups.flat();
    const n = all.length;
    const q = all.filter((c) => c.opts.run).length;
    try {
      // A new block only with nothing in flight: the old one's rest is given back then.
      while (!await this.places.ensure(n, q, this.inFlight.length === 0)) await this.drained();
    } catch (err) {
      for (const c of all) c.reject(err);
      this.failQueued(err);
      return;
    }
    const live = this.withoutFailed(groups);
    if (live.length === 0) {
      this.places.done();
      return;
    }
    const parts = live.map((group) => ({ group, places: group.map((c) => this.places.take(c.opts.run)) }));
    const flight: InFlight = { written: undefined, ...this.places.nextPlaces() };
    this.inFlight.push(flight);
    // The next flush waits for these fsyncs (not for the commit): the requests that come
    // meanwhile make one group, not many small ones that sync the same directories again.
    const outcomes = await Promise.allSettled(parts.map(({ group, places }) =>
      writeReservedJobs(this.store, group[0]!.def, group.map((c) => c.params), group[0]!.opts, places)));
    flight.written = parts.flatMap(({ group }, i) => {
      const outcome = outcomes[i]!;
      if (outcome.status === 'fulfilled') return [{ group, jobs: outcome.value }];
      for (const c of group) c.reject(outcome.reason);
      return [];
    });
    this.commitReady();
  }

  /** Resolves once no flush waits for its commit. */
  private drained(): Promise<void> {
    if (this.inFlight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Nothing in flight: those waiting for that go on. */
  private settleIdle(): void {
    if (this.inFlight.length > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  /** One commit at a time; a flush that becomes ready meanwhile is taken by the next. */
  private commitReady(): void {
    if (this.committing) {
      this.commitAgain = true;
      return;
    }
    this.committing = this.commitOnce().finally(() => {
      this.committing = undefined;
      if (this.commitAgain) {
        this.commitAgain = false;
        this.commitReady();
      }
      this.settleIdle();
    });
  }

  /** The flushes at the head of the line whose writes have settled (taken off it). */
  private takeReady(): InFlight[] {
    let k = 0;
    while (k < this.inFlight.length && this.inFlight[k]!.written !== undefined) k++;
    return this.inFlight.splice(0, k);
  }

  private async commitOnce(): Promise<void> {
    if (!this.inFlight[0]?.written) return;
    this.dropFailed();
    const taken: InFlight[] = [];
    try {
      // Nothing left to commit at the head (all failed with a lock deadline): no lock
      // turn for it; a later commit passes over their places.
      if (this.inFlight[0]!.written!.length === 0) {
        while (this.inFlight[0]?.written?.length === 0) taken.push(this.inFlight.shift()!);
        return;
      }
      await this.commitTaken(taken);
    } finally {
      // Each flush's use of the block ends with its commit (the block rests once all did).
      for (let i = 0; i < taken.length; i++) this.places.done();
    }
  }

  /** One commit; `taken` gets the flushes it covered (or failed). */
  private async commitTaken(taken: InFlight[]): Promise<void> {
    dieForTest('UWSRUN_TEST_KILL_BEFORE_RESERVED_COMMIT');
    let committed: Transaction | undefined;
    let wake: RunnerWake | undefined;
    try {
      const adopt = await withStateLock(this.store, () => this.store.update((tx) => {
        // Under the lock: every flush ready by now, so a busy server commits many at once.
        taken.push(...this.takeReady());
        const last = taken.at(-1)!;
        tx.deferDirSyncs = true;
        committed = tx;
        const adopted = this.places.commit(tx, last.seqEnd, last.queueEnd);
        const written = taken.flatMap((f) => f.written!);
        for (const { group, jobs } of written) commitReservedJobs(tx, group[0]!.def, group[0]!.opts, jobs);
        if (written.some(({ group }) => group[0]!.opts.run)) wake = runnerWakeForQueued(tx);
        return adopted;
      }, true));
      adopt();
    } catch (err) {
      // Never visible (the reservation still covers them): their files go.
      if (taken.length === 0) taken.push(...this.takeReady());
      for (const { group, jobs } of taken.flatMap((f) => f.written!)) {
        try {
          removeReservedJobs(this.store, jobs, group[0]!.opts.run);
        } catch { /* invisible anyway; tick removes them once this process is gone */ }
        for (const c of group) c.reject(err);
      }
      this.failQueued(err);
      return;
    }
    const written = taken.flatMap((f) => f.written!);
    try {
      // The commit's directory (HOME, for state.json's rename), synced before any 303.
      if (committed) await syncDirsAsync(committed);
      if (wake) await wakeRunner(this.store.home, wake);
    } catch (err) {
      for (const c of written.flatMap(({ group }) => group)) c.reject(err);
      return;
    }
    for (const { group, jobs } of written) group.forEach((c, i) => c.resolve(jobs[i]!));
  }

  /**
   * The lock stayed taken for a whole deadline (503): the creations that came meanwhile wait
   * for the next flush or the next commit, which would wait another deadline for the same
   * holder, and so on one after the other. They fail with it now, as the turns queued at the
   * lock do (writes.ts): those queued at once, those written or being written (in flight)
   * before their commit (dropFailed), those being checked once their places are in hand
   * (failedBefore); whatever comes after it is tried afresh.
   */
  private failQueued(err: unknown): void {
    if (!(err instanceof LockTimeoutError)) return;
    this.lockFailure = { at: Date.now(), err };
    const queued = this.queued;
    this.queued = [];
    for (const c of queued) c.reject(err);
  }

  /** The groups without the creations that came before the last lock deadline ran out (refused with it). */
  private withoutFailed(groups: Creation[][]): Creation[][] {
    const failure = this.lockFailure;
    if (!failure) return groups;
    return groups.map((group) => group.filter((c) => {
      if (c.at > failure.at) return true;
      c.reject(failure.err);
      return false;
    })).filter((group) => group.length > 0);
  }

  /** The groups written before a lock deadline ran out for them are refused with it; their files go. */
  private dropFailed(): void {
    const failure = this.lockFailure;
    if (!failure) return;
    for (const flight of this.inFlight) {
      if (!flight.written) continue;
      flight.written = flight.written.filter(({ group, jobs }) => {
        if (group.every((c) => c.at > failure.at)) return true;
        try {
          removeReservedJobs(this.store, jobs, group[0]!.opts.run);
        } catch { /* invisible anyway; tick removes them once this process is gone */ }
        for (const c of group) c.reject(failure.err);
        return false;
      });
    }
  }

  private async submit(group: Creation[]): Promise<void> {
    const [first] = group;
    try {
      const jobs = await withStateLock(this.store, () => submitJobs(this.store, first!.def, group.map((c) => c.params), first!.opts));
      group.forEach((c, i) => c.resolve(jobs[i]!));
    } catch (err) {
      // Bad input of one (exit 2: a job beyond the system's bounds) is that one's; anything
      // else (the lock not obtained, a full disk) would fail each of them alike.
      const oneOfThem = err instanceof UserError && err.exitCode === EXIT.usage;
      if (group.length === 1 || !oneOfThem) {
        for (const c of group) c.reject(err);
        this.failQueued(err);
        return;
      }
      for (const c of group) await this.submit([c]);
    }
  }
}
