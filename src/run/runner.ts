// The runner: one auto-started Node process per HOME that starts queued jobs and watches
// them. No daemon to set up: any command that queues a job calls ensureRunner(), which
// wakes the recorded runner with SIGUSR2 or, when none is alive (pid + start time checked
// in /proc), starts one detached. Two runners may start at once; the one that records itself
// in state.json first wins and the other exits.
//
// Everything the runner learns (a job is up, a job ended) is queued in memory and applied in
// one state transaction per event-loop turn, so a burst of endings costs one write. Each
// cycle also supervises what no event reports: jobs adopted from a runner that died (polled
// in /proc), time limits, and the SIGKILL that follows an abort's grace period.
// It exits after a few idle seconds, but only in a transaction that sees no queued or
// executing job, so a job queued concurrently always finds a runner. Queued jobs that may
// not start yet (dependencies, a start time: waiting.ts) keep it alive too; while nothing
// else needs it, it sleeps until the earliest start time they wait for (or until a command
// wakes it), instead of supervising every SUPERVISE_MS.
//
// A job's end is recorded with what its files say (last stderr line, results), read as soon
// as the end is known (job-files.ts): at once when the runner does not hold the lock, else
// on libuv's thread pool, and the end is applied by the first cycle after they are in. The runner's own thread, which holds the lock during a
// lease, never waits on a job's file: a job that turned its stderr.log into a FIFO can never
// keep the runner in open() with the lock.
// The runner shows it makes progress by rewriting `runner.beat` every second from its event
// loop (runner-stall.ts); `doctor` and `tick` judge a runner whose beat stopped.

import { closeSync, openSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { type HotEntry, type JobRecord, executorOf, isoNow } from '../core/job.js';
import { DamagedRecordError } from '../errors.js';
import { MAX_BACKOFF_MS, lockWanted } from '../store/lock.js';
import {
  FINISHED_BATCH, type HeldTransaction, type StateData, Store, type Transaction, entryInBatch, queueRevision,
} from '../store/state.js';
import { type QueueEntry, QueueListing, removeEntry } from '../store/queue-dir.js';
import { selectJobsToStart } from './queue.js';
import { WaitingJobs } from './waiting.js';
import {
  type ExitStatus, readExitFile, recordEnd, recordStart, recordUp, removeStartMarker, startMarkerAge, startMarkerTime,
} from './lifecycle.js';
import { type EndFacts, gatherEndFacts, gatherEndFactsAsync, gatherEndFactsAtOnce } from './job-files.js';
import { BEAT_MS, writeBeat } from './runner-stall.js';
import { isProcessAlive, processStartTime } from './proc.js';
import { jobsNeedingRunner } from './ensure-runner.js';
import { type LaunchAnswer, type WrapperExit, Launcher, LaunchError } from '../executors/local/launcher.js';
import { enforceTimeLimits } from './abort.js';
import { notificationsInFlight, resumeNotifications } from './notify.js';
import { ProcessTable } from './signal.js';
import { appendRunnerLines, runnerLogLine } from './runner-log.js';
import type { SlurmExecutor } from '../executors/slurm/executor.js';

const IDLE_EXIT_MS = Number(process.env.UWSRUN_RUNNER_IDLE_MS) || 3_000;
const SUPERVISE_MS = 250;
/** The longest a runner whose queued jobs all wait sleeps without a look (a backstop). */
const WAITING_SLEEP_MS = 10_000;
/** While only Slurm jobs are active: they are polled at most once a second anyway. */
const SLURM_ONLY_MS = 1_000;
const UP_WRITE_DELAY_MS = 20;
/** How long the runner may keep the lock while its jobs are running, to batch their news. */
const LEASE_MS = 10;
const ABANDONED_MARKER_MS = 5_000;
const START_RETRY_MS = 5_000;
/** Longer than a lock waiter's longest pause (MAX_BACKOFF_MS times 1.5). */
const LOCK_YIELD_MS = 2 * MAX_BACKOFF_MS;

export class Runner {
  private readonly store: Store;
  /** Jobs whose wrappers our launcher forked and has not yet reported ended: id -> pid. */
  private readonly children = new Map<string, number>();
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
  /** Queue entries of jobs whose record is damaged: never started by this runner (startJob). */
  private readonly unstartable = new Set<string>();
  private launcher: Launcher | undefined;
  /**
   * Jobs the launcher was asked to start whose answer has not come, with the transaction
   * that asked (the one kept open until the answer is recorded) and the record it read.
   */
  private readonly launching = new Map<string, { tx: Transaction; job: JobRecord }>();
  /** The launcher's answers, recorded by the next cycle (recordAnswers). */
  private readonly answers = new Map<string, LaunchAnswer>();
  /** Jobs whose start marker was found empty: not asked for again before this time. */
  private readonly retryAt = new Map<string, number>();
  private readonly ups = new Map<string, string>();
  /** Jobs whose leader ended and whose end is not recorded yet; undefined: seen in /proc. */
  private readonly exits = new Map<string, ExitStatus | undefined>();
  /** What the files of those jobs said (gatherFacts), and whose are being read. */
  private readonly facts = new Map<string, EndFacts>();
  private readonly gathering = new Set<string>();
  private cycleQueued = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private superviseTimer: NodeJS.Timeout | undefined;
  private upTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Lines already logged per active job (see logOnce). */
  private readonly said = new Map<string, Set<string>>();
  /** runner.log lines not written yet (see log()). */
  private readonly logLines: string[] = [];
  /** After a launch the launcher refused (no inode, no fork): no start before this time. */
  private startPausedUntil = 0;
  /** One /proc snapshot per cycle, taken when first needed (see ProcessTable). */
  private table: ProcessTable | undefined;
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
  /** The slurm executor, loaded (with execa) only once a Slurm job is about. */
  private slurm: SlurmExecutor | undefined;
  private slurmLoading = false;
  /** The last cycle saw active jobs, all of them Slurm's (nothing of ours to watch in /proc). */
  private onlySlurm = false;

  constructor(home: string) {
    this.store = new Store(home);
    this.queue = new QueueListing(this.store.layout);
    // Final records are moved into job.json in the background (migrateIfDue); the
    // synchronous path in the store (migrateAbove) is only a backstop should that fall
    // behind or fail.
    this.store.migrateAfterCommit = false;
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
    // The beat exists before the runner is recorded, so a recorded runner always has one.
    const identity = `${me.pid} ${me.startTime}`;
    writeBeat(this.store.layout, identity);
    setInterval(() => writeBeat(this.store.layout, identity), BEAT_MS).unref();
    const claimed = this.store.update((tx) => {
      const other = tx.state.runner;
      if (other && other.pid !== me.pid && isProcessAlive(other.pid, other.startTime)) return false;
      tx.state.runner = me;
      return true;
    });
    if (!claimed) process.exit(0);
    this.letWaitersIn();
    this.log('runner started');
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
      }
      active = this.apply(this.held.tx);
      // A start asked of the launcher is recorded in this transaction, once its answer is
      // in (within ~1 ms; the cycle it schedules commits then if due). Else nobody waits
      // through the lease while someone is announced: on a loaded machine the lease's timer
      // fires late, and the lock sat held, idle, for 100 ms and more.
      if (this.launching.size > 0) { /* kept open for the answers */ }
      else if (!active || this.children.size === 0 || Date.now() - this.heldSince >= LEASE_MS || lockWanted(this.store.layout.lockFile)) this.commit();
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
      this.superviseTimer = setTimeout(() => this.schedule(), this.nextCycleIn());
    } else {
      this.idleTimer = setTimeout(() => this.exitIfIdle(), IDLE_EXIT_MS);
    }
  }

  /**
   * When to look again: every SUPERVISE_MS while jobs run; when the queue holds only jobs
   * that wait (a dependency, a start time), at the earliest start time they wait for (a
   * dependency's end, a release or a delete wakes the runner sooner: SIGUSR2).
   */
  private nextCycleIn(): number {
    if (this.busy) return this.onlySlurm ? SLURM_ONLY_MS : SUPERVISE_MS;
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
      this.slurm?.afterCommit(held.tx.state);
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
    if (this.launching.size > 0) return; // the cycle of the answers commits
    try {
      this.commit();
    } catch (err) {
      this.log(`writing state failed: ${(err as Error).message}`);
      this.schedule();
    }
  }

  /**
   * Reads the files of an ended job: at once when the runner does not hold the lock or
   * when that is bounded (no results: see job-files.ts), else off its thread (the lock is
   * never held waiting on a walk of them); a cycle follows.
   */
  private gatherFacts(id: string): void {
    if (!this.held) {
      this.facts.set(id, gatherEndFacts(this.store.layout, id));
      return;
    }
    if (this.gathering.has(id)) return;
    const now = gatherEndFactsAtOnce(this.store.layout, id);
    if (now) {
      this.facts.set(id, now);
      return;
    }
    this.gathering.add(id);
    gatherEndFactsAsync(this.store.layout, id)
      .catch((): EndFacts => ({ stderrLine: '', results: [] }))
      .then((facts) => {
        this.gathering.delete(id);
        if (this.exits.has(id)) this.facts.set(id, facts);
        this.schedule();
      });
  }

  private abandon(): void {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    // Starts asked in it are not recorded; their answers are taken by a later transaction
    // (recordAnswers reads their records afresh).
    this.held?.abandon();
    this.held = undefined;
    this.slurm?.abandoned();
  }

  /** One transaction: apply events, supervise, start what may start. True while busy. */
  private apply(tx: Transaction): boolean {
    if (this.migrated) {
      const moved = tx.state.moved;
      tx.dropMigrated(this.migrated);
      this.waiting.movedByRunner(moved, tx.state.moved);
      this.migrated = undefined;
    }
    this.table = undefined;
    this.recordAnswers(tx);
    // A wrapper's "up" may come before the launcher's answer for it: kept until then.
    for (const [id, at] of this.ups) {
      if (this.launching.has(id)) continue;
      recordUp(tx, id, at);
      this.ups.delete(id);
    }
    for (const [id, status] of this.exits) {
      const facts = this.facts.get(id);
      if (!facts) continue;
      // Not recorded yet (aborted or leaving processes, which recordEnd terminates on
      // schedule): its files are read again by the next supervise, and it comes back here.
      this.facts.delete(id);
      this.perJob(id, () => {
        if (recordEnd(tx, id, status, facts, { say: this.sayFor(id), table: this.procTable() })) this.exits.delete(id);
      });
    }
    const now = Date.now();
    // Slurm's news and time limits (executors/slurm/executor.ts), before the queue: a job
    // that ended there frees its definition's maxRunning for the next handover.
    // Cancels of aborted jobs' Slurm jobs (state.slurmCancels) are its work too.
    if (this.slurm || tx.state.slurmCancels || Object.values(tx.state.jobs).some((h) => h.executor === 'slurm')) this.slurmExecutor()?.watch(tx, now);
    if (now - this.lastSupervised >= SUPERVISE_MS) {
      this.lastSupervised = now;
      this.supervise(tx, now);
    }
    // After a refused start (StartRefused) nothing starts for a while; the queue is still there.
    const queued = now >= this.startPausedUntil ? this.startQueued(tx) : true;
    this.table = undefined;
    this.busy = Object.keys(tx.state.jobs).length > 0 || this.children.size > 0 || this.exits.size > 0 || this.launching.size > 0;
    this.onlySlurm = this.children.size === 0 && this.exits.size === 0 && this.ups.size === 0 && this.launching.size === 0
      && Object.values(tx.state.jobs).every((h) => h.executor === 'slurm');
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
      if (this.retryAt.size > 0) {
        for (const [id, at] of this.retryAt) if (at <= Date.now()) this.retryAt.delete(id);
        all = all.filter((e) => !this.retryAt.has(e.jobId));
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
   * What no event reports: jobs whose leader is gone unreported (adopted from a runner that
   * died, or started by a launcher that died), adopted jobs whose "up" went to a dead
   * runner, and time limits.
   */
  private supervise(tx: Transaction, now: number): void {
    for (const line of resumeNotifications(tx)) this.log(line);
    for (const id of tx.activeJobIds()) {
      const hot = tx.state.jobs[id];
      if (!hot || hot.phase !== 'EXECUTING' || hot.executor === 'slurm') continue;
      this.perJob(id, () => this.superviseJob(tx, id, now));
    }
  }

  private superviseJob(tx: Transaction, id: string, now: number): void {
    const hot = tx.state.jobs[id]!;
    // Its leader is gone: the exit file tells how it ended. For a wrapper of our launcher,
    // only once that file is there (else the launcher's report, with the wait status, is
    // on its way).
    const ours = this.children.has(id);
    if (!this.exits.has(id) && hot.pid !== null && !isProcessAlive(hot.pid, hot.pidStart)
      && (!ours || readExitFile(tx.layout, id) !== undefined)) {
      this.children.delete(id);
      this.exits.set(id, undefined); // recorded once its files are read (see the top)
    }
    // An end not recorded yet (its files not read, or processes of it left: recordEnd
    // terminates them on schedule) is tried again with its files read afresh.
    if (this.exits.has(id) && !this.facts.has(id)) this.gatherFacts(id);
    // An end in hand is never taken for a job over its time limit; an aborted one still
    // gets its SIGKILL after the grace period below.
    if (this.exits.has(id) && !hot.abortRequested) return;
    if (hot.startTime === null && !this.children.has(id)) {
      // Its "up" went to a runner that died: the job started when its marker was written.
      const at = startMarkerTime(tx.layout, id);
      if (at) recordUp(tx, id, at);
    }
    const job = tx.getJob(id);
    if (job?.phase !== 'EXECUTING') return;
    const did = enforceTimeLimits(tx, job, now, this.procTable());
    if (did) this.logOnce(id, did);
  }

  /**
   * Runs one job's part of a cycle: a failure there (a process in a state we did not
   * foresee, a damaged record) is logged for that job and leaves the others supervised.
   */
  private perJob(id: string, body: () => void): void {
    try {
      body();
    } catch (err) {
      this.logOnce(id, `job ${id}: supervision failed: ${(err as Error).message}`);
    }
  }

  /**
   * The slurm executor, or undefined while it loads: its module (and execa) is imported the
   * first time a Slurm job is about, then the runner is woken to use it.
   */
  private slurmExecutor(): SlurmExecutor | undefined {
    if (this.slurm || this.slurmLoading) return this.slurm;
    this.slurmLoading = true;
    import('../executors/slurm/executor.js')
      .then(({ SlurmExecutor }) => {
        // Slurm's answers come one by one (30 sbatch calls at once answer within ~100 ms):
        // a cycle waits UP_WRITE_DELAY_MS for company, so they cost one state write, not 30.
        this.slurm = new SlurmExecutor(this.store.layout, (line) => this.log(line), () => this.scheduleWithin(UP_WRITE_DELAY_MS));
        this.schedule();
      })
      .catch((err: Error) => {
        this.slurmLoading = false;
        this.log(`cannot load the slurm executor: ${err.message}`);
      });
    return undefined;
  }

  private procTable(): ProcessTable {
    return (this.table ??= new ProcessTable());
  }

  /** The launcher, started on first use and again after it died. */
  private getLauncher(): Launcher {
    if (this.launcher) return this.launcher;
    let logFd: number | 'ignore' = 'ignore';
    try {
      logFd = openSync(this.store.layout.runnerLog, 'a', 0o600);
    } catch { /* its complaints are lost */ }
    try {
      this.launcher = new Launcher(join(this.store.home, `.launcher.${process.pid}`), {
        answer: (id, answer) => this.onAnswer(id, answer),
        up: (id) => this.onUp(id),
        exit: (id, status) => this.onExit(id, status),
        gone: (why) => {
          this.dropLauncher(why);
          this.schedule();
        },
      }, logFd);
    } finally {
      if (logFd !== 'ignore') closeSync(logFd);
    }
    return this.launcher;
  }

  private onAnswer(id: string, answer: LaunchAnswer): void {
    if (!this.launching.has(id)) return;
    this.answers.set(id, answer);
    this.schedule();
  }

  private onUp(id: string): void {
    // startTime alone may wait a moment for a cycle with other news (most short jobs end
    // within it): one state write instead of two.
    this.ups.set(id, isoNow());
    this.scheduleWithin(UP_WRITE_DELAY_MS);
  }

  private onExit(id: string, status: WrapperExit): void {
    this.children.delete(id);
    this.exits.set(id, status);
    this.gatherFacts(id);
    this.schedule();
  }

  /**
   * The launcher ended, or is given up (it may be hung: killed). Its wrappers live on but
   * nothing reports their ends: they are watched in /proc instead. The next job to start
   * starts a new launcher.
   */
  private dropLauncher(why: string): void {
    this.log(`${why}; its ${this.children.size} running job(s) are watched in /proc`);
    this.launcher?.close();
    this.launcher = undefined;
    this.children.clear();
    // Starts asked of it without an answer: not recorded, so their jobs are still QUEUED
    // and listed again. One it did make has left the job's start marker: found next time.
    if (this.launching.size > 0) {
      this.launching.clear();
      this.answers.clear();
      this.queue.invalidate();
    }
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
    if (executorOf(job) === 'slurm') {
      // Handed over after the commit (executors/slurm/executor.ts); no process here.
      const slurm = this.slurmExecutor();
      if (!slurm) return 'stop';
      slurm.start(tx, job);
      return 'started';
    }
    try {
      this.getLauncher().request({
        jobId: id, jobDir: tx.layout.jobDir(id), recordDir: tx.layout.recordDir(id),
        cwd: job.cwd, command: job.command, env: job.env, holdStart: job.holdStart ?? 0, killGrace: job.killGrace,
      });
    } catch (err) {
      if (!(err instanceof LaunchError)) throw err;
      this.dropLauncher(`job ${id}: ${err.message}; it stays QUEUED`);
      return 'stop';
    }
    this.launching.set(id, { tx, job });
    return 'started';
  }

  /**
   * The hot entries, and one for each job whose start waits for the launcher's answer: the
   * queue counts those as running (the HOME limit, maxRunning) and does not start them again.
   */
  private withStarting(tx: Transaction): Record<string, HotEntry> {
    if (this.launching.size === 0) return tx.state.jobs;
    const jobs = { ...tx.state.jobs };
    for (const [id, { job }] of this.launching) {
      jobs[id] ??= {
        seq: job.seq, phase: 'EXECUTING', definition: job.definition, maxRunning: job.maxRunning, queuedAt: job.queuedAt ?? null,
        pid: null, pidStart: null, startTime: null, abortRequested: null, abortReason: null,
      };
    }
    return jobs;
  }

  /** Records the launcher's answers that came in: starts, adoptions, refusals. */
  private recordAnswers(tx: Transaction): void {
    for (const [id, answer] of this.answers) {
      this.answers.delete(id);
      const asked = this.launching.get(id);
      if (!asked) continue;
      this.launching.delete(id);
      this.perJob(id, () => this.recordAnswer(tx, id, answer, asked.tx === tx ? asked.job : undefined));
    }
  }

  /**
   * One answer. `asked` is the job's record as read by the transaction that asked for the
   * start, if that is this one (else the record is read again: it may have changed).
   */
  private recordAnswer(tx: Transaction, id: string, answer: LaunchAnswer, asked: JobRecord | undefined): void {
    if ('refused' in answer) {
      // An answer, not a hang: this start failed (no inode or space for the job's files,
      // no fork). The launcher stays; the job stays QUEUED and starts are tried again
      // after a pause (what ran out is likely out for the next job too).
      this.startPausedUntil = Date.now() + START_RETRY_MS;
      this.scheduleWithin(START_RETRY_MS);
      this.queue.invalidate();
      this.logOnce(id, `job ${id}: could not be started: ${answer.refused}; it stays QUEUED (starts retried every ${START_RETRY_MS / 1000} s)`);
      return;
    }
    if (answer.pid === null) {
      // Its marker is empty: its launcher died between creating the marker and forking
      // (the forked wrapper writes the marker before anything else). Given up only after a
      // while, and only when /proc shows no process of the job.
      if (startMarkerAge(tx.layout, id) > ABANDONED_MARKER_MS && !jobRunsSomewhere(id, this.procTable())) {
        removeStartMarker(tx.layout, id);
        this.log(`job ${id}: its start marker was left empty by a launcher that died before forking it; no process of it runs: started afresh`);
      } else {
        this.retryAt.set(id, Date.now() + SUPERVISE_MS);
      }
      this.queue.invalidate();
      return;
    }
    const job = asked ?? tx.getJob(id);
    // Its "exit" may be in already (reported after the answer, taken at once: onExit).
    if (!answer.before && !this.exits.has(id)) this.children.set(id, answer.pid);
    // Not QUEUED any more (another process found it from its marker meanwhile, possible only
    // when the transaction that asked was given up): that process recorded the start.
    if (job?.phase !== 'QUEUED') return;
    this.said.delete(id);
    if (answer.before) {
      // Started by a runner that died before recording it: adopted, never run twice.
      this.log(`job ${id}: started before by a runner that died (pid ${answer.pid}): adopted`);
      this.lastSupervised = 0;
    } else {
      this.log(`job ${id}: started (pid ${answer.pid}): ${job.definition}`);
    }
    recordStart(tx, job, answer.pid, answer.pidStart);
  }

  /** Starts moving final records into their job.json when enough have gathered. */
  private migrateIfDue(state: StateData): void {
    if (this.migrating || this.migrated) return;
    const finished = Object.values(state.finished);
    if (finished.length <= FINISHED_BATCH) return;
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
        if (busy || this.children.size > 0 || this.launching.size > 0 || this.slurm?.busy) return false;
        tx.migrateFinished();
        for (const line of resumeNotifications(tx)) this.log(line);
        if (tx.state.runner?.pid === process.pid) tx.state.runner = null;
        return true;
      });
      if (idle) {
        if (this.slurm) this.log(this.slurm.summary());
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

/**
 * Whether any process of the job exists: its command (UWS_JOB_ID in its environment) or its
 * wrapper (named "uwsrun-wrapper ID" in ps).
 */
function jobRunsSomewhere(jobId: string, table: ProcessTable): boolean {
  if (table.withJobId(jobId).length > 0) return true;
  return table.all.some((p) => {
    try {
      return readFileSync(`/proc/${p.pid}/cmdline`, 'latin1').startsWith(`uwsrun-wrapper ${jobId}`);
    } catch {
      return false;
    }
  });
}
