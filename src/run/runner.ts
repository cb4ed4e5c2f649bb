// The runner: one auto-started Node process per HOME that starts queued jobs and watches
// them. No daemon to set up: any command that queues a job calls ensureRunner(), which
// wakes the recorded runner with SIGUSR2 or, when none is alive (pid + start time checked
// in /proc), starts one detached. Two runners may start at once; the one that records itself
// in state.json first wins and the other exits.
//
// The runner knows the queue, the state and its transactions, not how a job runs: starting,
// watching and signalling a job are its executor's (src/executors/: one Executor object per
// executor, made through the registry the first time a job of it is about). Everything the
// executors learn (a job is up, a job ended, Slurm answered) waits in memory and is applied
// in one state transaction per event-loop turn (each executor's watch()), so a burst of
// endings costs one write; the slow calls of an executor run after the commit (afterCommit).
// It exits after a few idle seconds, but only in a transaction that sees no queued or
// executing job, so a job queued concurrently always finds a runner. Queued jobs that may
// not start yet (dependencies, a start time: waiting.ts) keep it alive too; while nothing
// else needs it, it sleeps until the earliest start time they wait for (or until a command
// wakes it), instead of supervising every SUPERVISE_MS.
//
// The runner shows it makes progress by rewriting `runner.beat` every second from its event
// loop (runner-stall.ts); `doctor` and `tick` judge a runner whose beat stopped.

import { unlinkSync, watch } from 'node:fs';
import { join } from 'node:path';
import { type HotEntry, executorOf } from '../core/job.js';
import { DamagedRecordError } from '../errors.js';
import { MAX_BACKOFF_MS, lockContended, lockWanted } from '../store/lock.js';
import {
  FINISHED_BATCH, FINISHED_BATCH_CONTENDED, type HeldTransaction, type StateData, Store, type Transaction, entryInBatch, queueRevision,
} from '../store/state.js';
import { type QueueEntry, QueueListing, removeEntry } from '../store/queue-dir.js';
import { selectJobsToStart } from './queue.js';
import { WaitingJobs } from './waiting.js';
import { BEAT_MS, rewriteBeat, writeBeat } from './runner-stall.js';
import { isProcessAlive, processStartTime } from './proc.js';
import { jobsNeedingRunner } from './ensure-runner.js';
import { notificationsInFlight, resumeNotifications } from './notify.js';
import { appendRunnerLines, runnerLogLine } from './runner-log.js';
import type { ExecutorName } from '../definitions/schema.js';
import type { Executor, RunnerContext } from '../executors/executor.js';
import { executorKinds } from '../executors/index.js';
import { allExecutorFacts, executorFacts } from '../executors/facts.js';

const IDLE_EXIT_MS = Number(process.env.UWSRUN_RUNNER_IDLE_MS) || 3_000;
/** How often the runner looks when no executor asks for more (and notifications are resumed). */
const SUPERVISE_MS = 250;
/** The longest a runner whose queued jobs all wait sleeps without a look (a backstop). */
const WAITING_SLEEP_MS = 10_000;
/** How long the runner may keep the lock while its jobs are running, to batch their news. */
const LEASE_MS = 10;
/** Longer than a lock waiter's longest pause (MAX_BACKOFF_MS times 1.5). */
const LOCK_YIELD_MS = 2 * MAX_BACKOFF_MS;
/** The longest the runner goes without a cycle under the lock, however quiet (see quietCycle). */
const QUIET_MAX_MS = 5_000;
/** The shortest pause between two looks that found nothing: never a spin. */
const MIN_QUIET_LOOK_MS = 20;

export class Runner {
  private readonly store: Store;
  /** HOME/queue/ as last read (read again when a transaction may have added to it). */
  private readonly queue: QueueListing;
  /** The state of things when no queued job could start (see startQueued). */
  private blockedQueue: string | undefined;
  /** Queued jobs that may have to wait (dependencies, a start time), judged in memory. */
  private readonly waiting = new WaitingJobs();
  /** Whether every queued job left waits for something (then the runner may sleep long). */
  private queueOnlyWaits = false;
  /** Whether the last cycle saw jobs executing or ending. */
  private busy = false;
  /** How soon the executors of the jobs the last cycle saw want the next (ms). */
  private cycleMs = SUPERVISE_MS;
  /** Queue entries of jobs whose record is damaged: never started by this runner (startJob). */
  private readonly unstartable = new Set<string>();
  private cycleQueued = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private superviseTimer: NodeJS.Timeout | undefined;
  /** A cycle was asked for by news (a wake, a signal, an answer), not only by the supervise timer. */
  private news = true;
  private lastLockedCycle = 0;
  private upTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Lines already logged per active job (see logOnce). */
  private readonly said = new Map<string, Set<string>>();
  /** runner.log lines not written yet (see log()). */
  private readonly logLines: string[] = [];
  private lastSupervised = 0;
  /** The transaction whose lock the runner keeps between cycles (see cycle()). */
  private held: HeldTransaction | undefined;
  private heldSince = 0;
  private lastCommit = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Final records being written into job.json in the background, then what was written. */
  private migrating = false;
  private migrated: Map<string, string | null> | undefined;
  /** It left (idle, or told to go) and exits once its notifications are spawned. */
  private leaving = false;
  /** The executors loaded so far (each on first need: Slurm's brings child_process), and those loading. */
  private readonly executors = new Map<ExecutorName, Executor>();
  private readonly loading = new Set<ExecutorName>();
  /** What the executors may ask of this runner. */
  private readonly context: RunnerContext;

  constructor(home: string) {
    this.store = new Store(home);
    this.queue = new QueueListing(this.store.layout);
    // Final records are moved into job.json in the background (migrateIfDue); the
    // synchronous path in the store (migrateAbove) is only a backstop should that fall
    // behind or fail.
    this.store.migrateAfterCommit = false;
    this.context = {
      home: this.store.home,
      layout: this.store.layout,
      log: (line) => this.log(line),
      logOnce: (jobId, line) => this.logOnce(jobId, line),
      sayFor: (jobId) => this.sayFor(jobId),
      startsAfresh: (jobId) => this.said.delete(jobId),
      wake: () => this.schedule(),
      wakeWithin: (ms) => this.scheduleWithin(ms),
      holdsLock: () => this.held !== undefined,
      queueChanged: () => this.queue.invalidate(),
    };
  }

  /**
   * A line for runner.log, stamped now and written with the others of this event-loop turn
   * in one append (a drain logs two lines per job), before the process exits at the latest.
   */
  log(message: string): void {
    this.logLines.push(runnerLogLine(message));
    if (this.logLines.length === 1) setImmediate(() => this.flushLog());
  }

  private flushLog(): void {
    appendRunnerLines(this.store.layout, this.logLines.splice(0));
  }

  /**
   * Logs a line about an active job once: supervision repeats itself every cycle (SIGKILL
   * to a process that may not be signalled), runner.log must not.
   */
  private logOnce(jobId: string, message: string): void {
    let said = this.said.get(jobId);
    if (!said) this.said.set(jobId, (said = new Set()));
    if (said.has(message)) return;
    said.add(message);
    this.log(message);
  }

  /** What recordEnd says about a job; the end itself closes its log lines. */
  private sayFor(jobId: string): (line: string) => void {
    return (line) => {
      this.logOnce(jobId, line);
      if (/^job \S+: ended /.test(line)) this.said.delete(jobId);
    };
  }

  start(): void {
    // Read by libuv when its thread pool starts: enough threads for a batch of fsyncs at once.
    process.env.UV_THREADPOOL_SIZE ??= '16';
    process.on('SIGUSR2', () => this.schedule());
    // Jobs run in their own sessions: a runner that is told to go leaves them running, and
    // the next runner adopts them.
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => this.leave(sig));
    // Its stderr goes nowhere (it is detached): a crash must at least say why.
    process.on('uncaughtException', (err) => {
      this.log(`runner crashed: ${err.stack ?? err.message}`);
      this.flushLog();
      process.exit(70);
    });
    const me = { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
    // A live runner is recorded already (a command, or the wrappers of jobs that ended
    // together, started several): this one leaves without touching runner.beat, which
    // names the live one (wrappers read it: launcher.pl respawnRunner).
    const seen = this.store.readState().runner;
    if (seen && seen.pid !== me.pid && isProcessAlive(seen.pid, seen.startTime)) process.exit(0);
    // The beat exists before the runner is recorded, so a recorded runner always has one.
    const identity = `${me.pid} ${me.startTime}`;
    writeBeat(this.store.layout, identity);
    setInterval(() => writeBeat(this.store.layout, identity), BEAT_MS).unref();
    let winner: { pid: number; startTime: string } | undefined;
    const claimed = this.store.update((tx) => {
      const other = tx.state.runner;
      if (other && other.pid !== me.pid && isProcessAlive(other.pid, other.startTime)) {
        winner = other;
        return false;
      }
      tx.state.runner = me;
      return true;
    });
    if (!claimed) {
      // Lost the race after all: the beat names the winner again.
      if (winner) rewriteBeat(this.store.layout, `${winner.pid} ${winner.startTime}`);
      process.exit(0);
    }
    this.letWaitersIn();
    // Started by the wrapper of a job that ended after its runner died (launcher.pl
    // respawnRunner): its claim to do so is done with.
    const by = process.env.UWSRUN_RESPAWNED_BY;
    delete process.env.UWSRUN_RESPAWNED_BY;
    if (by) try { unlinkSync(join(this.store.home, 'runner.respawn')); } catch { /* gone */ }
    this.log(by ? `runner started (by the wrapper of job ${by}, which ended after the runner before had died)` : 'runner started');
    // Local jobs are the common case: their executor is there for the first cycle.
    this.executorFor('local');
    this.schedule();
  }

  private scheduleWithin(ms: number): void {
    if (this.cycleQueued || this.upTimer) return;
    this.upTimer = setTimeout(() => {
      this.upTimer = undefined;
      this.schedule();
    }, ms);
  }

  schedule(): void {
    this.news = true;
    this.queueCycle();
  }

  /** A cycle for the supervise timer: skipped when nothing would change (quietCycle). */
  private queueCycle(): void {
    if (this.cycleQueued) return;
    this.cycleQueued = true;
    setImmediate(() => {
      this.cycleQueued = false;
      this.cycle();
    });
  }

  /**
   * Applies what happened since the last cycle. While jobs of ours are running, the lock is
   * kept for up to LEASE_MS across cycles and state.json is written once at the end: a
   * queue of short jobs costs one lock and one durable write per batch of starts and ends,
   * not per job. Other processes wait at most that long for the lock, and readers see the
   * news of a batch together.
   */
  private cycle(): void {
    if (this.leaving) return;
    const news = this.news;
    this.news = false;
    if (!news && !this.held && this.quietCycle()) {
      // When the executors want the next look now: what the last cycle planned may have
      // moved since (a poll made after it), and a stale "in 1 ms" would spin.
      let ms = Math.min(QUIET_MAX_MS, this.waiting.nextTime - Date.now());
      for (const executor of this.executors.values()) if (executor.cycleMs !== undefined) ms = Math.min(ms, executor.cycleMs);
      clearTimeout(this.superviseTimer);
      this.superviseTimer = setTimeout(() => this.queueCycle(), Math.max(ms, MIN_QUIET_LOOK_MS));
      return;
    }
    let active: boolean;
    try {
      if (!this.held) {
        if (Date.now() - this.lastCommit < LOCK_YIELD_MS && lockWanted(this.store.layout.lockFile)) {
          // Someone waits for the lock: leave it free for longer than a waiter's pause.
          setTimeout(() => this.schedule(), LOCK_YIELD_MS);
          return;
        }
        this.held = this.store.begin();
        this.heldSince = Date.now();
        this.lastLockedCycle = this.heldSince;
      }
      active = this.apply(this.held.tx);
      // A start asked of the launcher is recorded in this transaction, once its answer is
      // in (within ~1 ms; the cycle it schedules commits then if due). Else nobody waits
      // through the lease while someone is announced: on a loaded machine the lease's timer
      // fires late, and the lock sat held, idle, for 100 ms and more.
      if (this.someExecutor((e) => e.awaitingAnswers === true)) { /* kept open for the answers */ }
      else if (!active || !this.someExecutor((e) => e.leases === true) || Date.now() - this.heldSince >= LEASE_MS || lockWanted(this.store.layout.lockFile)) this.commit();
      else this.leaseTimer ??= setTimeout(() => this.commitSafely(), this.heldSince + LEASE_MS - Date.now());
      this.failures = 0;
    } catch (err) {
      this.abandon();
      this.failures++;
      this.log(`cycle failed (${this.failures}): ${(err as Error).message}`);
      if (this.failures >= 30) this.leave('too many failures');
      setTimeout(() => this.schedule(), 1000).unref();
      return;
    }
    clearTimeout(this.superviseTimer);
    clearTimeout(this.idleTimer);
    if (active) {
      this.superviseTimer = setTimeout(() => this.queueCycle(), this.nextCycleIn());
    } else {
      this.idleTimer = setTimeout(() => this.exitIfIdle(), IDLE_EXIT_MS);
    }
  }

  /**
   * Whether a cycle the supervise timer asked for may be skipped, decided without the lock:
   * no news came (a wake would have asked for it), every executor says its cycle would
   * record nothing (Executor.quiet: no news unrecorded, no job file changed, no deadline
   * due), nothing waits for a time that has come, and nobody
   * has committed since the runner's last cycle (state.json is the version it left: no
   * abort, limit, delete or submit meanwhile). Then the lock is not taken and state.json not
   * parsed: 30 Slurm jobs pending for hours cost a stat() of each a second, not a transaction.
   * At least every QUIET_MAX_MS the cycle runs anyway, for whatever these checks miss.
   */
  private quietCycle(): boolean {
    const now = Date.now();
    if (now - this.lastLockedCycle >= QUIET_MAX_MS || this.loading.size > 0 || this.migrating || this.waiting.nextTime <= now) return false;
    for (const executor of this.executors.values()) if (!executor.quiet?.(now)) return false;
    return this.store.unchangedSinceRelease();
  }

  /**
   * When to look again: every SUPERVISE_MS while jobs run; when the queue holds only jobs
   * that wait (a dependency, a start time), at the earliest start time they wait for (a
   * dependency's end, a release or a delete wakes the runner sooner: SIGUSR2).
   */
  private nextCycleIn(): number {
    if (this.busy) return this.cycleMs;
    if (!this.queueOnlyWaits) return SUPERVISE_MS;
    return Math.max(SUPERVISE_MS, Math.min(WAITING_SLEEP_MS, this.waiting.nextTime - Date.now()));
  }

  /** Writes what the held transaction changed and releases the lock. */
  private commit(): void {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    const held = this.held;
    this.held = undefined;
    this.lastCommit = Date.now();
    held?.commit();
    if (held) {
      this.migrateIfDue(held.tx.state);
      for (const executor of this.executors.values()) executor.afterCommit(held.tx.state);
    }
    // A job retried in it (run/retry.ts, local or Slurm): its new queue entry was written by
    // the commit, after the listing was read; it is read again now.
    if (held?.tx.requeued) {
      this.queue.invalidate();
      this.schedule();
    }
  }

  /**
   * A waiter announced in state.lock.want (store/lock.ts) is let in at once, not when the
   * lease runs out: a command or the server that meets the runner's lease waits for one
   * commit, not for a timer that fires LEASE_MS later (much later on a loaded machine). One
   * watch of the HOME; without it the lease's timer still ends every lease.
   */
  private letWaitersIn(): void {
    try {
      watch(this.store.home, { persistent: false }, (_event, name) => {
        if (name !== 'state.lock.want' || !this.held || !lockWanted(this.store.layout.lockFile)) return;
        clearTimeout(this.leaseTimer);
        this.commitSafely();
      }).on('error', () => { /* the lease's timer is the backstop */ });
    } catch { /* likewise */ }
  }

  private commitSafely(): void {
    this.leaseTimer = undefined;
    if (this.someExecutor((e) => e.awaitingAnswers === true)) return; // the cycle of the answers commits
    try {
      this.commit();
    } catch (err) {
      this.log(`writing state failed: ${(err as Error).message}`);
      this.schedule();
    }
  }

  private abandon(): void {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    this.held?.abandon();
    this.held = undefined;
    for (const executor of this.executors.values()) executor.abandoned();
  }

  /** One transaction: apply events, supervise, start what may start. True while busy. */
  private apply(tx: Transaction): boolean {
    if (this.migrated) {
      const moved = tx.state.moved;
      tx.dropMigrated(this.migrated);
      this.waiting.movedByRunner(moved, tx.state.moved);
      this.migrated = undefined;
    }
    const now = Date.now();
    if (now - this.lastSupervised >= SUPERVISE_MS) {
      this.lastSupervised = now;
      for (const line of resumeNotifications(tx)) this.log(line);
    }
    // The executors' news and time limits, before the queue: a job that ended frees its
    // definition's maxRunning (and a slot of the HOME limit) for the next start.
    for (const executor of this.executors.values()) executor.watch(tx, now);
    this.loadNeeded(tx.state);
    // After a refused start (no inode, no fork) nothing starts for a while; the queue is still there.
    let pausedUntil = 0;
    for (const executor of this.executors.values()) pausedUntil = Math.max(pausedUntil, executor.startsPausedUntil ?? 0);
    const queued = now >= pausedUntil ? this.startQueued(tx) : true;
    this.busy = Object.keys(tx.state.jobs).length > 0 || this.someExecutor((e) => e.busy);
    this.cycleMs = this.cycleFor(tx.state);
    return queued || this.busy;
  }

  /**
   * Starts what may start, FIFO from the queue listing (entries of submits in progress
   * left out). A stale entry frees its slot for the next one. True while jobs are queued.
   */
  private startQueued(tx: Transaction): boolean {
    // Jobs whose dependency failed are aborted even in a paused HOME: that starts nothing.
    const { removed, changed } = this.waiting.settle(tx, this.queue.list(queueRevision(tx.state)), (line) => this.log(line));
    this.queue.drop(removed);
    if (changed || removed.size > 0) this.blockedQueue = undefined;
    // A paused HOME (limit 0) starts nothing, and its queued jobs keep no runner busy:
    // `limit N` wakes or starts one again (see jobsNeedingRunner).
    if (tx.state.limit === 0) return false;
    const visible = (): QueueEntry[] => {
      let all = this.queue.list(queueRevision(tx.state));
      if (this.unstartable.size > 0) all = all.filter((e) => !this.unstartable.has(e.name));
      for (const executor of this.executors.values()) {
        const held = executor.holdsBack;
        if (held) all = all.filter((e) => !held(e.jobId));
      }
      return Object.keys(tx.state.batches).length === 0 ? all : all.filter((e) => !entryInBatch(tx.state, e));
    };
    // A queue of 100,000 jobs that cannot start (their definition at its maxRunning) is not
    // gone through again every cycle: only when the queue, the limit or the running set changed.
    const key = (n: number) => `${queueRevision(tx.state)}|${tx.state.limit}|${Object.keys(this.withStarting(tx)).join(',')}|${n}`;
    if (this.blockedQueue !== undefined && this.blockedQueue === key(visible().length)) return true;
    this.blockedQueue = undefined;
    for (;;) {
      const chosen = selectJobsToStart(this.withStarting(tx), visible(), tx.state.limit, (e) => this.waiting.mayStart(e));
      this.queueOnlyWaits = false;
      const done = new Set<string>();
      let stop = false;
      let stale = false;
      for (const entry of chosen) {
        const result = this.startJob(tx, entry);
        if (result === 'stop') {
          stop = true;
          break;
        }
        if (result === 'stale') stale = true;
        done.add(entry.name);
        this.waiting.forget(entry.name);
      }
      this.queue.drop(done);
      if (chosen.length === 0) {
        const left = visible();
        if (left.length > 0) this.blockedQueue = key(left.length);
        this.queueOnlyWaits = left.length > 0 && left.every((e) => e.waits && !this.waiting.mayStart(e));
        return left.length > 0;
      }
      if (stop || !stale) break;
    }
    return visible().length > 0;
  }

  /**
   * Loads the executors the state names and the runner has not loaded yet (a job's hot
   * entry, work of an executor's own such as Slurm's cancels); each is watched from the
   * cycle after it loaded (the load wakes the runner).
   */
  private loadNeeded(state: StateData): void {
    if (this.executors.size + this.loading.size === allExecutorFacts().length) return;
    for (const facts of allExecutorFacts()) {
      if (this.executors.has(facts.name) || this.loading.has(facts.name)) continue;
      if (facts.pendingWork(state) > 0 || Object.values(state.jobs).some((h) => executorOf(h) === facts.name)) this.executorFor(facts.name);
    }
  }

  /**
   * The soonest any executor with active jobs (or work in hand) wants the next cycle: its
   * own word where it has one (Executor.cycleMs), else its facts'.
   */
  private cycleFor(state: StateData): number {
    let ms = Infinity;
    const seen = new Set<ExecutorName>();
    for (const hot of Object.values(state.jobs)) {
      const name = executorOf(hot);
      if (seen.has(name)) continue;
      seen.add(name);
      ms = Math.min(ms, this.executors.get(name)?.cycleMs ?? executorFacts(hot).cycleMs);
    }
    for (const executor of this.executors.values()) if (executor.busy) ms = Math.min(ms, executor.cycleMs ?? executorFacts({ executor: executor.name }).cycleMs);
    return ms === Infinity ? SUPERVISE_MS : ms;
  }

  private someExecutor(test: (executor: Executor) => boolean): boolean {
    for (const executor of this.executors.values()) if (test(executor)) return true;
    return false;
  }

  /**
   * An executor, or undefined while it loads: its module is imported the first time a job
   * of it is about (Slurm's brings its commands), then the runner is woken to use it.
   */
  private executorFor(name: ExecutorName): Executor | undefined {
    const loaded = this.executors.get(name);
    if (loaded || this.loading.has(name)) return loaded;
    this.loading.add(name);
    executorKinds()[name].runner(this.context)
      .then((executor) => {
        this.executors.set(name, executor);
        this.loading.delete(name);
        this.schedule();
      })
      .catch((err: Error) => {
        this.loading.delete(name);
        this.log(`cannot load the ${name} executor: ${err.message}`);
      });
    return undefined;
  }

  /** Starts the job of a queue entry; 'stale': the entry's job is not queued (dropped). */
  private startJob(tx: Transaction, entry: QueueEntry): 'started' | 'stale' | 'stop' {
    const id = entry.jobId;
    let job;
    try {
      job = tx.getJob(id);
    } catch (err) {
      if (!(err instanceof DamagedRecordError)) throw err;
      // Not started, and not in the way: left out of every listing of this runner, so the
      // jobs behind it start and it keeps no runner busy; its entry stays until `uwsrun
      // delete` removes the job (a record repaired meanwhile waits for the next runner).
      this.logOnce(id, `${err.line}; it is not started`);
      this.unstartable.add(entry.name);
      return 'stale';
    }
    if (!job || job.phase !== 'QUEUED' || (job.queuedAt ?? 0) !== entry.queuedAt) {
      removeEntry(tx.layout, entry.name);
      return 'stale';
    }
    // Started (or handed over) by its executor; nothing more this cycle while it loads.
    const executor = this.executorFor(executorOf(job));
    if (!executor) return 'stop';
    return executor.start(tx, job);
  }

  /**
   * The hot entries, and one for each job whose start waits for its executor's answer: the
   * queue counts those as running (the HOME limit, maxRunning) and does not start them again.
   */
  private withStarting(tx: Transaction): Record<string, HotEntry> {
    let jobs: Record<string, HotEntry> | undefined;
    for (const executor of this.executors.values()) {
      for (const job of executor.starting?.() ?? []) {
        jobs ??= { ...tx.state.jobs };
        jobs[job.jobId] ??= {
        seq: job.seq, phase: 'EXECUTING', definition: job.definition, maxRunning: job.maxRunning, queuedAt: job.queuedAt ?? null,
          pid: null, pidStart: null, startTime: null, abortRequested: null, abortReason: null,
          ...(job.executor && job.executor !== 'local' ? { executor: job.executor } : {}),
        };
      }
    }
    return jobs ?? tx.state.jobs;
  }

  /**
   * Starts moving final records into their job.json when enough have gathered: fewer while
   * commands wait for the lock, whose every holder pays for the size of state.json.
   */
  private migrateIfDue(state: StateData): void {
    if (this.migrating || this.migrated) return;
    const finished = Object.values(state.finished);
    // Called right after its commit: a lock held by now is another's.
    if (finished.length <= (lockContended(this.store.layout.lockFile) ? FINISHED_BATCH_CONTENDED : FINISHED_BATCH)) return;
    this.migrating = true;
    this.store.writeFinishedRecords(finished)
      .then((written) => {
        this.migrated = written;
        this.schedule();
      })
      .catch((err: Error) => this.log(`moving final records into job.json failed: ${err.message}`))
      .finally(() => {
        this.migrating = false;
      });
  }

  private exitIfIdle(): void {
    if (this.migrating) {
      // Its temp files would be left behind: exit once the background writes are done.
      this.idleTimer = setTimeout(() => this.exitIfIdle(), 50);
      return;
    }
    try {
      const idle = this.store.update((tx) => {
        const busy = jobsNeedingRunner(tx.state, tx.layout, (e) => this.unstartable.has(e.name)) > 0;
        if (busy || this.someExecutor((e) => e.busy)) return false;
        tx.migrateFinished();
        for (const line of resumeNotifications(tx)) this.log(line);
        if (tx.state.runner?.pid === process.pid) tx.state.runner = null;
        return true;
      });
      if (idle) {
        for (const executor of this.executors.values()) if (executor.summary) this.log(executor.summary());
        this.log('idle: runner exits');
        this.exitAfterNotifications();
        return;
      }
    } catch (err) {
      this.log(`idle check failed: ${(err as Error).message}`);
    }
    this.schedule();
  }

  private leave(why: string): void {
    this.log(`runner leaves (${why}); running jobs stay for the next runner`);
    try {
      this.commit();
    } catch { /* what it held is redone by the next runner */ }
    try {
      this.store.update((tx) => {
        tx.migrateFinished();
        if (tx.state.runner?.pid === process.pid) tx.state.runner = null;
      });
    } catch { /* the next runner checks liveness anyway */ }
    this.exitAfterNotifications();
  }

  /**
   * Exits once the notifications this runner claimed are spawned (a moment; one it cannot
   * spawn is sent by whoever sweeps next). Meanwhile it is no runner any more: no cycle runs.
   */
  private exitAfterNotifications(): void {
    this.leaving = true;
    void notificationsInFlight().finally(() => {
      this.flushLog();
      process.exit(0);
    });
  }
}
