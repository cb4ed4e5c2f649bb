// The local executor on the runner's side: jobs run on this machine, forked by the runner's
// one long-lived Perl launcher (launcher.ts) as wrappers in sessions of their own.
//
// Starting happens inside the runner's transaction, because a launch costs the runner ~0.5
// ms: start() writes the request to the launcher and does not wait; the answer ("launched
// ID PID STARTTIME", or "fail", or the marker of a start made before) comes on the
// launcher's stdout within ~1 ms, and the runner keeps its transaction open until every
// answer is in (awaitingAnswers), so the pid is recorded in the transaction that chose to
// start the job and the queue counts a job whose answer is awaited as running (starting()).
// The same stream carries the wrappers' "up" and the launcher's "exit" reports (so a job's
// answer always comes before its end); they wait in memory for the next cycle's watch(),
// which records them: startTime, and the end with what the job's files say (read as soon
// as the end is known, job-files.ts: at once when the runner does not hold the lock, else
// on libuv's thread pool; the lock is never held waiting on a job's file).
// What no event reports is supervised every SUPERVISE_MS from /proc: jobs adopted from a
// runner that died or started by a launcher that died (pid + start time), adopted jobs
// whose "up" went to a dead runner, time limits and the SIGKILL after an abort's grace
// (abort.ts). While its jobs run, the runner batches their news under a lease (leases).

import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JobRecord, executorOf, isoNow } from '../../core/job.js';
import type { StateData, Transaction } from '../../store/state.js';
import {
  type ExitStatus, readExitFile, recordEnd, recordStart, recordUp, removeStartMarker, startMarkerAge, startMarkerTime,
} from '../../run/lifecycle.js';
import { type EndFacts, gatherEndFacts, gatherEndFactsAsync, gatherEndFactsAtOnce } from '../../run/job-files.js';
import { type ProcStat, isProcessAlive } from '../../run/proc.js';
import { ProcessTable } from '../../run/signal.js';
import { type LaunchAnswer, type WrapperExit, Launcher, LaunchError } from './launcher.js';
import { enforceTimeLimits } from './abort.js';
import { type Executor, NEWS_DELAY_MS, type RunnerContext } from '../executor.js';

import { SUPERVISE_MS } from './facts.js';
const ABANDONED_MARKER_MS = 5_000;
const START_RETRY_MS = 5_000;

/** A wrapper our launcher forked: the job's leader, when its start was asked for, its limits. */
interface Child {
  pid: number;
  pidStart: string;
  /** Date.now() when the start was asked for (before the fork). */
  at: number;
  /** The record's executionDuration and killGrace (fixed once it runs); undefined: unknown. */
  limits: { executionDuration: number; killGrace: number } | undefined;
}

export class LocalExecutor implements Executor {
  readonly name = 'local' as const;
  /**
   * Jobs whose wrappers our launcher forked and has not yet reported ended: id -> the
   * wrapper (the job's leader) and when its start was asked for (Date.now(), before the fork).
   */
  private readonly children = new Map<string, Child>();
  private launcher: Launcher | undefined;
  /**
   * Jobs the launcher was asked to start whose answer has not come, with the transaction
   * that asked (the one kept open until the answer is recorded) and the record it read.
   */
  private readonly launching = new Map<string, { tx: Transaction; job: JobRecord; at: number }>();
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
  /**
   * The escapees of those jobs (SPEC §5: processes with their UWS_JOB_ID outside the
   * wrapper's tree), looked for in /proc when their files were read, after the leader ended:
   * that look is not made under the lock (see lookForEscapees).
   */
  private readonly escapees = new Map<string, ProcStat[]>();
  /** After a launch the launcher refused (no inode, no fork): no start before this time. */
  startsPausedUntil = 0;
  /** Until when (ms) a look may find nothing to do for local jobs, as the last cycle saw them (see quiet). */
  private quietUntil = 0;
  /** One /proc snapshot per cycle, taken when first needed (see ProcessTable). */
  private table: ProcessTable | undefined;
  private lastSupervised = 0;

  constructor(private readonly ctx: RunnerContext) {}

  get busy(): boolean {
    return this.children.size > 0 || this.launching.size > 0 || this.exits.size > 0 || this.ups.size > 0;
  }

  get awaitingAnswers(): boolean {
    return this.launching.size > 0;
  }

  get leases(): boolean {
    return this.children.size > 0;
  }

  get holdsBack(): ((jobId: string) => boolean) | undefined {
    if (this.retryAt.size === 0) return undefined;
    const now = Date.now();
    for (const [id, at] of this.retryAt) if (at <= now) this.retryAt.delete(id);
    return (id) => this.retryAt.has(id);
  }

  *starting(): Iterable<JobRecord> {
    for (const { job } of this.launching.values()) yield job;
  }

  start(tx: Transaction, job: JobRecord): 'started' | 'stop' {
    const id = job.jobId;
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
    this.launching.set(id, { tx, job, at: Date.now() });
    return 'started';
  }

  /**
   * Outside the lock: whether a cycle would record nothing for local jobs. Their news comes
   * on the launcher's stream (answers, "up", ends), each of which wakes a cycle; so a look
   * finds nothing while no such news waits, and every job the last cycle saw is a wrapper
   * of this runner's launcher with no deadline before quietUntil (its executionDuration, or
   * the SIGKILL killGrace after an abort or after its leader ended). A job adopted from
   * another runner, or one whose start is not recorded yet, is watched from /proc: every
   * cycle runs then. The periodic look in /proc for wrappers whose end report went missing
   * runs with the full cycles (at least every 5 s).
   */
  quiet(now: number): boolean {
    return now < this.quietUntil && this.launching.size === 0 && this.answers.size === 0 && this.exits.size === 0 && this.ups.size === 0
      && this.gathering.size === 0 && this.retryAt.size === 0 && now >= this.startsPausedUntil;
  }

  /** While local jobs run, the supervise interval; else the facts' (see Executor.cycleMs). */
  get cycleMs(): number | undefined {
    return this.children.size > 0 || this.quietUntil !== Infinity ? SUPERVISE_MS : undefined;
  }

  /** See quiet: the first deadline of the local jobs in the state; 0 when one is not ours to skip. */
  private quietHorizon(tx: Transaction): number {
    let until = Infinity;
    for (const [id, hot] of Object.entries(tx.state.jobs)) {
      if (executorOf(hot) !== 'local') continue;
      const child = this.children.get(id);
      if (hot.phase !== 'EXECUTING' || !child?.limits) return 0;
      const since = hot.abortRequested ?? hot.leftoverSince ?? null;
      if (since) until = Math.min(until, Date.parse(since) + child.limits.killGrace * 1000);
      else if (hot.startTime && child.limits.executionDuration > 0) {
        until = Math.min(until, Date.parse(hot.startTime) + child.limits.executionDuration * 1000);
      }
    }
    return Number.isNaN(until) ? 0 : until;
  }

  /** Its starts are recorded by a later transaction (recordAnswers reads their records afresh). */
  abandoned(): void {}

  afterCommit(_state: StateData): void {}

  watch(tx: Transaction, now: number): void {
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
      const escapees = this.escapees.get(id);
      this.escapees.delete(id);
      this.perJob(id, () => {
        if (recordEnd(tx, id, status, facts, { say: this.ctx.sayFor(id), table: this.procTable(), escapees })) this.exits.delete(id);
      });
    }
    if (now - this.lastSupervised >= SUPERVISE_MS) {
      this.lastSupervised = now;
      this.supervise(tx, now);
    }
    this.table = undefined;
    this.quietUntil = this.quietHorizon(tx);
  }

  /**
   * What no event reports: jobs whose leader is gone unreported (adopted from a runner that
   * died, or started by a launcher that died), adopted jobs whose "up" went to a dead
   * runner, and time limits.
   */
  private supervise(tx: Transaction, now: number): void {
    for (const id of tx.activeJobIds()) {
      const hot = tx.state.jobs[id];
      if (!hot || hot.phase !== 'EXECUTING' || executorOf(hot) !== 'local') continue;
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
    if (hot.startTime === null && !hot.abortRequested && !this.children.has(id)) {
      // Its "up" went to a runner that died: the job started when its marker was written.
      // Not a job aborted in its starting window: it was stopped before its command ran,
      // and ends ABORTED with startTime null (SPEC §2; recordEnd's rule too).
      const at = startMarkerTime(tx.layout, id);
      if (at) recordUp(tx, id, at);
    }
    const job = tx.getJob(id);
    if (job?.phase !== 'EXECUTING') return;
    const did = enforceTimeLimits(tx, job, now, this.procTable());
    if (did) this.ctx.logOnce(id, did);
  }

  /**
   * Runs one job's part of a cycle: a failure there (a process in a state we did not
   * foresee, a damaged record) is logged for that job and leaves the others supervised.
   */
  private perJob(id: string, body: () => void): void {
    try {
      body();
    } catch (err) {
      this.ctx.logOnce(id, `job ${id}: supervision failed: ${(err as Error).message}`);
    }
  }

  private procTable(): ProcessTable {
    return (this.table ??= new ProcessTable());
  }

  /** The launcher, started on first use and again after it died. */
  private getLauncher(): Launcher {
    if (this.launcher) return this.launcher;
    let logFd: number | 'ignore' = 'ignore';
    try {
      logFd = openSync(this.ctx.layout.runnerLog, 'a', 0o600);
    } catch { /* its complaints are lost */ }
    try {
      this.launcher = new Launcher(join(this.ctx.home, `.launcher.${process.pid}`), {
        answer: (id, answer) => this.onAnswer(id, answer),
        up: (id) => this.onUp(id),
        exit: (id, status) => this.onExit(id, status),
        gone: (why) => {
          this.dropLauncher(why);
          this.ctx.wake();
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
    this.ctx.wake();
  }

  private onUp(id: string): void {
    // startTime alone may wait a moment for a cycle with other news (most short jobs end
    // within it): one state write instead of two.
    this.ups.set(id, isoNow());
    this.ctx.wakeWithin(NEWS_DELAY_MS);
  }

  private onExit(id: string, status: WrapperExit): void {
    const leader = this.children.get(id);
    this.children.delete(id);
    this.exits.set(id, status);
    this.gatherFacts(id, leader);
    this.ctx.wake();
  }

  /**
   * The launcher ended, or is given up (it may be hung: killed). Its wrappers live on but
   * nothing reports their ends: they are watched in /proc instead. The next job to start
   * starts a new launcher.
   */
  private dropLauncher(why: string): void {
    this.ctx.log(`${why}; its ${this.children.size} running job(s) are watched in /proc`);
    this.launcher?.close();
    this.launcher = undefined;
    this.children.clear();
    // Starts asked of it without an answer: not recorded, so their jobs are still QUEUED
    // and listed again. One it did make has left the job's start marker: found next time.
    if (this.launching.size > 0) {
      this.launching.clear();
      this.answers.clear();
      this.ctx.queueChanged();
    }
  }

  /**
   * Reads the files of an ended job: at once when the runner does not hold the lock or
   * when that is bounded (no results: see job-files.ts), else off its thread (the lock is
   * never held waiting on a walk of them); a cycle follows.
   */
  private gatherFacts(id: string, leader?: Child): void {
    if (!this.ctx.holdsLock()) {
      this.facts.set(id, gatherEndFacts(this.ctx.layout, id));
      if (leader) this.lookForEscapees(id, leader);
      return;
    }
    if (this.gathering.has(id)) return;
    const now = gatherEndFactsAtOnce(this.ctx.layout, id);
    if (now) {
      this.facts.set(id, now);
      return;
    }
    this.gathering.add(id);
    gatherEndFactsAsync(this.ctx.layout, id)
      .catch((): EndFacts => ({ stderrLine: '', results: [] }))
      .then((facts) => {
        this.gathering.delete(id);
        if (this.exits.has(id)) this.facts.set(id, facts);
        this.ctx.wake();
      });
  }

  /**
   * Outside the lock, once a wrapper of our launcher has ended: the job's escapees, for
   * recordEnd, which else looks for them itself inside the transaction (on a busy machine
   * that look reads the environ of every process started since the leader: most of a
   * runner's hold). A look made now is as good as one made later: once the leader has
   * ended, a new process of the job can only come from one that lives now, and is found
   * with it. The start asked for here is before the job's startTime, so the look covers at
   * least what recordEnd's would (a job taken to be older is looked at in full sooner). An
   * aborted job gets recordEnd's full look of every process of it whatever is found here.
   */
  private lookForEscapees(id: string, leader: Child): void {
    try {
      this.escapees.set(id, new ProcessTable().escapeesSince(id, leader.pid, leader.pidStart, new Date(leader.at).toISOString()));
    } catch { /* recordEnd looks itself */ }
  }

  /** Records the launcher's answers that came in: starts, adoptions, refusals. */
  private recordAnswers(tx: Transaction): void {
    for (const [id, answer] of this.answers) {
      this.answers.delete(id);
      const asked = this.launching.get(id);
      if (!asked) continue;
      this.launching.delete(id);
      this.perJob(id, () => this.recordAnswer(tx, id, answer, asked.tx === tx ? asked.job : undefined, asked.at));
    }
  }

  /**
   * One answer. `asked` is the job's record as read by the transaction that asked for the
   * start, if that is this one (else the record is read again: it may have changed).
   */
  private recordAnswer(tx: Transaction, id: string, answer: LaunchAnswer, asked: JobRecord | undefined, askedAt: number): void {
    if ('refused' in answer) {
      // An answer, not a hang: this start failed (no inode or space for the job's files,
      // no fork). The launcher stays; the job stays QUEUED and starts are tried again
      // after a pause (what ran out is likely out for the next job too).
      this.startsPausedUntil = Date.now() + START_RETRY_MS;
      this.ctx.wakeWithin(START_RETRY_MS);
      this.ctx.queueChanged();
      this.ctx.logOnce(id, `job ${id}: could not be started: ${answer.refused}; it stays QUEUED (starts retried every ${START_RETRY_MS / 1000} s)`);
      return;
    }
    if (answer.pid === null) {
      // Its marker is empty: its launcher died between creating the marker and forking
      // (the forked wrapper writes the marker before anything else). Given up only after a
      // while, and only when /proc shows no process of the job.
      if (startMarkerAge(tx.layout, id) > ABANDONED_MARKER_MS && !jobRunsSomewhere(id, this.procTable())) {
        removeStartMarker(tx.layout, id);
        this.ctx.log(`job ${id}: its start marker was left empty by a launcher that died before forking it; no process of it runs: started afresh`);
      } else {
        this.retryAt.set(id, Date.now() + SUPERVISE_MS);
      }
      this.ctx.queueChanged();
      return;
    }
    const job = asked ?? tx.getJob(id);
    // Its "exit" may be in already (reported after the answer, taken at once: onExit).
    if (!answer.before && !this.exits.has(id)) {
      const limits = job ? { executionDuration: job.executionDuration, killGrace: job.killGrace } : undefined;
      this.children.set(id, { pid: answer.pid, pidStart: answer.pidStart, at: askedAt, limits });
    }
    // Not QUEUED any more (another process found it from its marker meanwhile, possible only
    // when the transaction that asked was given up): that process recorded the start.
    if (job?.phase !== 'QUEUED') return;
    this.ctx.startsAfresh(id);
    if (answer.before) {
      // Started by a runner that died before recording it: adopted, never run twice.
      this.ctx.log(`job ${id}: started before by a runner that died (pid ${answer.pid}): adopted`);
      this.lastSupervised = 0;
    } else {
      this.ctx.log(`job ${id}: started (pid ${answer.pid}): ${job.definition}`);
    }
    recordStart(tx, job, answer.pid, answer.pidStart);
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
