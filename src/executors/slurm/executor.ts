// The slurm executor on the runner's side (SPEC §11): hands QUEUED jobs over, watches every
// active Slurm job of the HOME, and enforces executionDuration to the second. Slurm's
// commands are slow (tens of ms; ~9 s to fail when the controller is down) and each costs
// the runner ~1.5 ms of CPU (a process: commands.ts), so a job's news comes from the files
// its batch script writes into its records (batch.pl): `batch` (it runs), `up` (the command
// started), `exit` (how the command ended: its size changes when the wrapper writes it) and
// `signalled` (Slurm signalled the batch job). Each cycle stat()s the active jobs' next file
// (one stat per running job), and one fs.watch per job's records wakes a cycle within
// NEWS_MS when its `batch`, `up` or `exit` file changes. Without news the runner cycles once
// a second (STAT_MS, cycleMs), sooner for a deadline (executionDuration, killGrace, a retry):
// on a shared filesystem, where Slurm runs jobs on other nodes and inotify does not see their
// writes, those stat()s alone bring the news, and a job's start or end recorded up to 5 s
// late would hold every `wait` on it that long. Slurm is asked (ONE squeue for all active jobs, at most once a second) only when needed:
//   - a job's exit file is written but does not settle it (see endNeedsSlurm): Slurm's end
//     state decides then (TIMEOUT, OUT_OF_MEMORY, CANCELLED...), once Slurm reports one;
//   - jobs being aborted, and Slurm jobs of aborted uwsrun jobs (state.slurmCancels);
//   - a backstop every BACKSTOP_MS for the rest: a job Slurm cancelled while pending, failed
//     before its batch script ran, or forgot (a node that failed).
// None runs inside the runner's transaction:
//   - in the transaction (apply), the runner's cycle records what the last calls found
//     (handed over, refused, running, up, ended) and marks jobs to hand over (handOver: the
//     hot entry's handoverAt, written before any sbatch, so a successor looks before it
//     hands a job over again);
//   - after the commit (afterCommit), the calls run asynchronously; their outcomes wait in
//     memory for the next cycle, which the runner is woken for.
// A controller that does not answer changes no job: handovers are retried with backoff
// (1 s doubling to 60 s), polls go on once a second, and the outage is recorded in
// state.json (for `doctor`) and said once in runner.log when it starts and once when it ends.

import type { HotEntry, JobRecord } from '../../core/job.js';
import { isoNow } from '../../core/job.js';
import type { Transaction } from '../../store/state.js';
import type { HomeLayout } from '../../store/home.js';
import { type FSWatcher, watch } from 'node:fs';
import { type EndFacts, gatherEndFactsAsync, gatherEndFactsAtOnce } from '../../run/job-files.js';
import { readExitFile } from '../../run/lifecycle.js';
import { type Handover, handOver, sbatchRunning, slurmJobName } from './handover.js';
import { describeSlurmCalls, runSlurm } from './commands.js';
import { type SlurmJobState, parseSacct, parseSqueue, slurmEnded } from './states.js';
import { type SlurmJobNews, jobNews, recordHandover, recordRefused, recordSlurmEnd, recordSlurmStart, recordSlurmUp } from './records.js';
import type { Executor } from '../executor.js';
import { OUTAGE_ENDED_WORDS, OUTAGE_WORDS, outageKind } from './facts.js';

const POLL_MS = 1_000;
/** The longest a cycle without news waits for the next (its stat()s see other nodes' writes). */
const STAT_MS = 1_000;
/** How long news may wait for company before a cycle records it (see wakeSoon). */
const NEWS_MS = 100;
/** The longest a job without news goes without Slurm being asked about it. */
const BACKSTOP_MS = Number(process.env.UWSRUN_SLURM_BACKSTOP_MS) || 5_000;
/** How long an exit 0 waits for the batch script's `ended` before Slurm is asked instead. */
const ENDED_WAIT_MS = 3_000;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 60_000;

interface Ended {
  slurm: SlurmJobState | undefined;
  facts: EndFacts;
  /** False: the exit file settled it and Slurm was not asked (see endNeedsSlurm). */
  asked: boolean;
}

/**
 * Whether a job's end, as its exit file says it, needs Slurm's verdict (SPEC §11: Slurm's
 * end state decides, whatever the wrapper wrote). Not when the command exited 0 by itself
 * and the batch script got no signal: Slurm ends a job early only by signalling it (time
 * limit, scancel, preemption: every process of the batch job is signalled, the batch script
 * among them, which notes it in `signalled`) or by killing the command (the OOM killer:
 * then the command dies by SIGKILL) or the node (then no exit status is written). The batch
 * script's `signalled` is final only once it is done waiting for the command (`ended`):
 * Slurm signals the command itself too, which may die of it, and its wrapper write the exit
 * file, before the batch script's handler has run (seen at load ~45). Until then Slurm is
 * asked (a batch script of an older uwsrun writes no `ended`: its jobs get Slurm's verdict).
 * Every other end (a signal death, an exit status other than 0, a command that could not start, an
 * abort) waits for Slurm to report the batch job ended.
 */
function endNeedsSlurm(news: SlurmJobNews, aborting: boolean, now: number): boolean | 'wait' {
  if (aborting || news.signalled || news.end?.error !== undefined || news.end?.signal !== null || news.end?.exitCode !== 0) return true;
  if (news.batchEnded) return false;
  // The batch script writes `ended` a moment after the exit file: waited for, briefly.
  const age = now - news.exitAt;
  return age >= 0 && age < ENDED_WAIT_MS ? 'wait' : true;
}

export class SlurmExecutor implements Executor {
  readonly name = 'slurm' as const;
  readonly countsAgainstHomeLimit = false;
  /** Marked in the transaction being held: handed over once it is committed. */
  private readonly toHandOver = new Map<string, { job: JobRecord; lookFirst: boolean }>();
  private readonly inFlight = new Set<string>();
  private readonly outcomes = new Map<string, Handover>();
  private readonly retryAt = new Map<string, number>();
  private readonly backoff = new Map<string, number>();
  /** The last poll's view (for start and up), and the ends it found (with their files read). */
  private polled: Map<string, SlurmJobState> | undefined;
  private readonly ended = new Map<string, Ended>();
  /** What the last poll said of each job (its Slurm state), to tell a poll with news. */
  private readonly lastSeen = new Map<string, string>();
  private polling = false;
  private lastPoll = 0;
  /** Slurm ids uwsrun cancelled or signalled itself (CANCELLED is then no surprise). */
  private readonly ours = new Set<string>();
  /** Plain scancels sent after killGrace (sent again while they fail), and logged once. */
  private readonly killed = new Set<string>();
  private readonly killSaid = new Set<string>();
  private outage: { since: string; message: string } | undefined;
  private outageSaid: boolean | undefined;
  /**
   * The cancels the state owns (state.slurmCancels), by uwsrun job id: scancel calls under
   * way, when the next may go, and those Slurm confirmed (gone, or never known to it), which
   * the next cycle removes from the state.
   */
  private readonly cancelling = new Set<string>();
  private readonly cancelAt = new Map<string, number>();
  private readonly cancelBackoff = new Map<string, number>();
  private readonly cancelled = new Set<string>();
  private toCancel: [string, string | null][] = [];
  /** Running jobs' executionDuration and killGrace (fixed once a job runs), by job id. */
  private readonly limits = new Map<string, { executionDuration: number; killGrace: number }>();
  /** Jobs whose end is being read or waits to be recorded (never ended twice). */
  private readonly ending = new Set<string>();
  /** Jobs whose exit file is written but whose end needs Slurm's verdict: a poll is due. */
  private readonly verdict = new Set<string>();
  /** One watch of each active job's records directory (news sooner than the next cycle). */
  private readonly watchers = new Map<string, FSWatcher>();
  private newsTimer: NodeJS.Timeout | undefined;
  /** The next deadline the last cycle saw, but the backstop poll's (see dueNow), in ms. */
  private deadlineDue = Infinity;
  /** The jobs the last cycle watched, as its hot entries had them (see quiet). */
  private watched: Array<{ id: string; phase: string; upKnown: boolean }> = [];
  /** The last cycle saw Slurm's word wanted every second: an abort under way, a cancel to confirm. */
  private wantsSlurm = false;

  constructor(
    private readonly layout: HomeLayout,
    private readonly log: (line: string) => void,
    private readonly wake: () => void,
  ) {}

  /** In the runner's transaction: a QUEUED job the queue chose is to be handed over. */
  start(tx: Transaction, job: JobRecord): 'started' {
    tx.putHot(job, { handoverAt: isoNow() });
    this.toHandOver.set(job.jobId, { job, lookFirst: false });
    return 'started';
  }

  /** The transaction was given up: its marks were never written. */
  abandoned(): void {
    this.toHandOver.clear();
  }

  /** In every cycle's transaction: what the Slurm calls found, then time limits. */
  watch(tx: Transaction, now: number): void {
    for (const [id, outcome] of this.outcomes) {
      this.outcomes.delete(id);
      this.applyOutcome(tx, id, outcome, now);
    }
    for (const [id, end] of this.ended) {
      this.ended.delete(id);
      this.ending.delete(id);
      this.verdict.delete(id);
      const line = this.perJob(id, () => recordSlurmEnd(tx, id, end.slurm, end.facts, end.slurm ? this.ours.has(end.slurm.slurmJobId) : false, end.asked));
      if (line) this.log(line);
    }
    const polled = this.polled;
    this.polled = undefined;
    this.watched = [];
    this.wantsSlurm = Object.keys(tx.state.slurmCancels ?? {}).length > 0;
    for (const [id, hot] of Object.entries(tx.state.jobs)) {
      if (hot.executor !== 'slurm') continue;
      if (!hot.slurmJobId) {
        // Marked, not handed over: by a runner that died, or a retry after an outage.
        if (hot.phase === 'QUEUED' && !this.inFlight.has(id) && !this.toHandOver.has(id) && now >= (this.retryAt.get(id) ?? 0)) {
          const job = tx.getJob(id);
          if (job) this.toHandOver.set(id, { job, lookFirst: true });
        }
        continue;
      }
      this.watchFiles(id);
      this.perJob(id, () => this.watchJob(tx, id, hot, polled?.get(hot.slurmJobId!), now));
      const after = tx.state.jobs[id];
      if (after?.slurmJobId) this.watched.push({ id, phase: after.phase, upKnown: after.startTime !== null });
      if (after?.abortRequested) this.wantsSlurm = true;
    }
    for (const id of this.limits.keys()) if (!tx.state.jobs[id]) this.limits.delete(id);
    for (const [id, w] of this.watchers) {
      if (tx.state.jobs[id]?.slurmJobId) continue;
      w.close();
      this.watchers.delete(id);
      this.verdict.delete(id);
    }
    this.watchCancels(tx, now);
    this.saveOutage(tx);
    this.planNextCycle(tx);
  }

  /**
   * When the next cycle is due: at the next deadline (a job's executionDuration, a retry, a
   * cancel to send again) or the backstop poll (added by dueNow, from the last poll as it
   * is then), and at the latest in STAT_MS (cycleMs).
   * Slurm's word awaited (a verdict, an abort, a cancel to confirm, an outage) needs no due
   * time of its own: afterCommit polls for it at most once a second, and cycles come at
   * least that often. Every deadline here is one that the cycle at it acts on (so a past one
   * never makes the runner spin): the backstop counts only jobs a poll asks about, a cancel
   * deferred while its handover is unknown is due again later (sendCancels), and whatever
   * is under way (a poll, an sbatch, a scancel) makes the executor busy: then POLL_MS.
   */
  private planNextCycle(tx: Transaction): void {
    let due = Infinity;
    for (const [id, hot] of Object.entries(tx.state.jobs)) {
      if (hot.executor !== 'slurm') continue;
      const limits = this.limits.get(id);
      // The checks in watchJob are "more than the limit": due 1 ms after it.
      if (limits && hot.phase === 'EXECUTING' && hot.startTime && !hot.abortRequested && limits.executionDuration > 0) {
        due = Math.min(due, Date.parse(hot.startTime) + limits.executionDuration * 1000 + 1);
      }
      if (!hot.slurmJobId) due = Math.min(due, this.retryAt.get(id) ?? Infinity);
    }
    for (const at of this.cancelAt.values()) due = Math.min(due, at);
    this.deadlineDue = due;
  }

  /**
   * Outside the lock: whether the next cycle would record nothing. No news in hand
   * (answers, ends, a poll's view), no deadline due, Slurm not asked every second
   * (an outage, an abort, a cancel to confirm: see afterCommit), and no watched job's files
   * tell news: a QUEUED job's `batch` (it runs), a running job's `up` or written `exit`.
   * The same stat()s the cycle makes (jobNews), so on a shared filesystem other nodes'
   * writes are seen as soon.
   */
  quiet(now: number): boolean {
    // News in hand. (Calls under way are not: an sbatch's answer, a poll that learnt
    // something, the end facts being read each wake a cycle when they come.)
    if (this.outcomes.size > 0 || this.ended.size > 0 || this.verdict.size > 0 || this.cancelling.size > 0 || this.cancelled.size > 0
      || this.toHandOver.size > 0 || this.polled !== undefined || this.toCancel.length > 0 || this.newsTimer !== undefined) return false;
    if (this.wantsSlurm || this.outage !== undefined) return false;
    // A deadline, or the backstop poll (counted from the last poll, which may have been
    // made after the last cycle planned: afterCommit).
    if (now >= this.dueNow()) return false;
    try {
      return this.watched.every(({ id, phase, upKnown }) => {
        if (this.ending.has(id)) return true;
        const news = jobNews(this.layout, id, phase, upKnown);
        return phase === 'QUEUED' ? !news.ran : news.up === undefined && news.end === undefined;
      });
    } catch {
      return false;
    }
  }

  /**
   * How soon the runner should cycle again for Slurm's jobs (see planNextCycle): at the latest
   * in STAT_MS, whose stat()s are the news from other nodes. The backstop counts from the
   * last poll as it is now (the one afterCommit made after the cycle planned moves it).
   */
  get cycleMs(): number {
    if (this.busy) return POLL_MS;
    return Math.max(1, Math.min(STAT_MS, this.dueNow() - Date.now()));
  }

  /** The next deadline or backstop poll, from the last cycle's plan and the last poll. */
  private dueNow(): number {
    return Math.min(this.deadlineDue, this.watched.length > 0 ? this.lastPoll + BACKSTOP_MS : Infinity);
  }

  /**
   * The Slurm jobs of aborted or deleted uwsrun jobs (state.slurmCancels): an entry goes once
   * Slurm confirmed the job gone; until then scancel is sent again, backing off from 1 s to
   * 60 s while it fails (SPEC §11: no Slurm job is left behind, nothing runs on after ABORTED).
   */
  private watchCancels(tx: Transaction, now: number): void {
    const entries = tx.state.slurmCancels;
    if (!entries) return;
    for (const [id, entry] of Object.entries(entries)) {
      if (this.cancelled.has(id)) {
        this.cancelled.delete(id);
        this.cancelAt.delete(id);
        this.cancelBackoff.delete(id);
        const { [id]: _gone, ...rest } = tx.state.slurmCancels!;
        tx.state.slurmCancels = rest;
        this.log(`job ${id}: Slurm no longer runs or holds ${entry.slurmJobId ? `job ${entry.slurmJobId}` : `a job named ${slurmJobName(id)}`}: its cancel is done`);
      } else if (!this.cancelling.has(id) && now >= (this.cancelAt.get(id) ?? 0)) {
        this.toCancel.push([id, entry.slurmJobId]);
      }
    }
    if (Object.keys(tx.state.slurmCancels!).length === 0) delete tx.state.slurmCancels;
  }

  /** After the commit: scancel for the cancels due (by id, or by name while the id is unknown). */
  private sendCancels(): void {
    for (const [id, slurmJobId] of this.toCancel.splice(0)) {
      if (this.cancelling.has(id)) continue;
      // A handover of it still under way (here, or an sbatch of a runner that died) would
      // create a Slurm job after a cancel by name: the cancel waits for its outcome.
      if (!slurmJobId && (this.inFlight.has(id) || sbatchRunning(id))) {
        this.cancelAt.set(id, Date.now() + POLL_MS);
        continue;
      }
      this.cancelling.add(id);
      if (slurmJobId) this.ours.add(slurmJobId);
      void (slurmJobId ? slurmSignal(slurmJobId, 'cancel') : cancelByName(id)).then((failed) => {
        this.cancelling.delete(id);
        if (failed === undefined ? !slurmJobId : /already completing or completed|Invalid job id/i.test(failed)) {
          // Cancelled by name (nothing of it can appear later), or Slurm does not know it.
          this.cancelled.add(id);
          this.wake();
          return;
        }
        // Sent (the poll confirms it gone), or it failed (the outage itself is the polls' to
        // notice and say): sent again after a while.
        const wait = failed === undefined ? RETRY_FIRST_MS * 5 : Math.min(RETRY_MAX_MS, (this.cancelBackoff.get(id) ?? RETRY_FIRST_MS / 2) * 2);
        if (failed !== undefined) this.cancelBackoff.set(id, wait);
        this.cancelAt.set(id, Date.now() + wait);
      });
    }
  }

  /**
   * One active job's cycle, from its hot entry: its record (job.json, read from disk) only
   * when something is to be recorded, and its limits from the cache once it runs (they no
   * longer change then), so a quiet cycle costs no file read per job.
   */
  private watchJob(tx: Transaction, id: string, hot: HotEntry, seen: SlurmJobState | undefined, now: number): void {
    if (this.ending.has(id)) return;
    const news = jobNews(this.layout, id, hot.phase, hot.startTime !== null);
    const up = news.up;
    if (hot.phase === 'QUEUED' && (news.ran || (seen && !/^(PENDING|CONFIGURING|REQUEUED)/.test(seen.state) && !slurmEnded(seen.state)))) {
      const job = tx.getJob(id);
      if (!job || job.phase !== 'QUEUED') return;
      recordSlurmStart(tx, job);
      this.log(`job ${id}: running in Slurm (job ${job.slurmJobId})`);
    }
    if (tx.state.jobs[id]?.phase === 'EXECUTING') {
      const job = up || !this.limits.has(id) ? tx.getJob(id) : undefined;
      if (job) {
        if (job.phase !== 'EXECUTING') return;
        this.limits.set(id, { executionDuration: job.executionDuration, killGrace: job.killGrace });
        if (job.startTime === null && up) recordSlurmUp(tx, job, up);
      }
    }
    const needs = news.end ? endNeedsSlurm(news, !!tx.state.jobs[id]?.abortRequested, now) : false;
    if (needs === 'wait') return; // `ended` wakes a cycle (watchFiles), else the next one looks again
    if (news.end) {
      if (needs) this.verdict.add(id);
      else {
        // The command's own word settles it: recorded now, with its files read at once when
        // that is bounded (no results), else by the cycle after they are read.
        this.ending.add(id);
        const facts = gatherEndFactsAtOnce(this.layout, id);
        if (facts) {
          this.ending.delete(id);
          const line = recordSlurmEnd(tx, id, undefined, facts, false, false);
          if (line) this.log(line);
          return;
        }
        void gatherEndFactsAsync(this.layout, id).catch((): EndFacts => ({ stderrLine: '', results: [] })).then((f) => {
          this.ended.set(id, { slurm: undefined, facts: f, asked: false });
          this.wakeSoon();
        });
        return;
      }
    }
    const current = tx.state.jobs[id];
    const limits = this.limits.get(id);
    if (!current || current.phase !== 'EXECUTING' || !current.slurmJobId || !limits) return;
    const slurmJobId = current.slurmJobId;
    // executionDuration to the second: Slurm's --time has minute resolution and fires late.
    if (!current.abortRequested && current.startTime && limits.executionDuration > 0 && now - Date.parse(current.startTime) > limits.executionDuration * 1000) {
      const job = tx.getJob(id);
      if (!job) return;
      tx.putHot({ ...job, abortRequested: isoNow() }, { abortReason: `executionDuration of ${job.executionDuration} s exceeded` });
      this.signal(slurmJobId, 'interrupt');
      this.log(`job ${id}: executionDuration of ${job.executionDuration} s exceeded: aborting (scancel --signal=INT --full ${slurmJobId})`);
    } else if (current.abortRequested && !this.killed.has(slurmJobId) && now - Date.parse(current.abortRequested) > limits.killGrace * 1000) {
      // Sent again while it fails (signal() forgets it then); said once.
      if (!this.killSaid.has(slurmJobId)) this.log(`job ${id}: still running ${limits.killGrace} s after the abort: scancel ${slurmJobId}`);
      this.killSaid.add(slurmJobId);
      this.killed.add(slurmJobId);
      this.signal(slurmJobId, 'kill');
    }
  }

  private applyOutcome(tx: Transaction, id: string, outcome: Handover, now: number): void {
    const job = tx.getJob(id);
    if (outcome.kind === 'ok') {
      this.noteAnswer();
      this.backoff.delete(id);
      this.retryAt.delete(id);
      if (!job || job.phase !== 'QUEUED' || tx.state.jobs[id]?.executor !== 'slurm') {
        // Aborted or deleted while sbatch ran: no Slurm job is left behind (SPEC §11). The
        // state owns its cancel, by the id now known (watchCancels sends it).
        tx.state.slurmCancels = { ...tx.state.slurmCancels, [id]: { slurmJobId: outcome.slurmJobId, since: isoNow() } };
        this.cancelAt.delete(id);
        this.log(`job ${id}: ${job ? `is ${job.phase}` : 'is gone'} by the time sbatch answered: scancel ${outcome.slurmJobId}`);
        return;
      }
      recordHandover(tx, job, outcome.slurmJobId);
      this.log(outcome.found
        ? `job ${id}: found in Slurm as job ${outcome.slurmJobId} (handed over by a runner that died): adopted`
        : `job ${id}: handed over to Slurm (job ${outcome.slurmJobId}): ${job.definition}`);
    } else if (outcome.kind === 'refused') {
      this.noteAnswer();
      if (!job || job.phase !== 'QUEUED') return;
      recordRefused(tx, job, outcome.message);
      this.log(`job ${id}: ended ERROR (sbatch refused it: ${outcome.message})`);
    } else {
      this.noteOutage(outcome.message);
      const wait = Math.min(RETRY_MAX_MS, (this.backoff.get(id) ?? RETRY_FIRST_MS / 2) * 2);
      this.backoff.set(id, wait);
      this.retryAt.set(id, now + wait);
    }
  }

  private perJob<T>(id: string, body: () => T): T | undefined {
    try {
      return body();
    } catch (err) {
      this.log(`job ${id}: supervision failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Wakes a cycle within NEWS_MS: news of several jobs (sbatch answers, which come one by one
   * when many handovers run at once; starts and ends) is recorded by one transaction and one
   * state write, not one each.
   */
  private wakeSoon(): void {
    if (this.newsTimer) return;
    this.newsTimer = setTimeout(() => {
      this.newsTimer = undefined;
      this.wake();
    }, NEWS_MS);
  }

  /**
   * Wakes a cycle when the job's news files change: `batch` (its batch job runs), `up` (the
   * command started), `exit` (created by the batch script when it starts, written by the
   * wrapper when the command ends); not for the files the runner writes itself (job.json).
   * Best effort: the cycle's stat()s are what counts (another node's writes raise no inotify
   * event here).
   */
  private watchFiles(id: string): void {
    if (this.watchers.has(id)) return;
    try {
      const w = watch(this.layout.recordDir(id), { persistent: false }, (_event, name) => {
        if (name === 'exit' || name === 'batch' || name === 'up' || name === 'ended') this.wakeSoon();
      });
      w.on('error', () => { /* the cycle's stat()s suffice */ });
      this.watchers.set(id, w);
    } catch { /* likewise */ }
  }

  /** After the commit: the handovers marked, the cancels due, and the poll when one is due. */
  afterCommit(state: { jobs: Transaction['state']['jobs']; slurmCancels?: Transaction['state']['slurmCancels'] }): void {
    for (const [id, { job, lookFirst }] of this.toHandOver) {
      this.toHandOver.delete(id);
      if (this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      void this.handOverJob(job, lookFirst);
    }
    this.sendCancels();
    const active = Object.entries(state.jobs).filter(([id, h]) => h.executor === 'slurm' && h.slurmJobId && !this.ending.has(id));
    const ids = new Map(active.map(([id, h]) => [h.slurmJobId!, id]));
    const cancels = new Map(Object.entries(state.slurmCancels ?? {}).filter(([id, c]) => c.slurmJobId && !this.cancelled.has(id)).map(([id, c]) => [c.slurmJobId!, id]));
    // Slurm is asked only when its word is wanted (see the top of this file).
    const wanted = this.verdict.size > 0 || cancels.size > 0 || active.some(([, h]) => h.abortRequested) || this.outage !== undefined
      || Date.now() - this.lastPoll >= BACKSTOP_MS;
    if ((ids.size > 0 || cancels.size > 0) && wanted && !this.polling && Date.now() - this.lastPoll >= POLL_MS) {
      this.polling = true;
      this.lastPoll = Date.now();
      void this.poll(ids, cancels).then((news) => {
        this.polling = false;
        if (news) this.wake();
      }, () => {
        this.polling = false;
        this.wake();
      });
    }
  }

  /** What the runner says of Slurm when it goes idle: the commands it ran (one line). */
  summary(): string {
    return `Slurm commands run: ${describeSlurmCalls() || 'none'}`;
  }

  /** Whether the runner must come back within a second (a poll or a retry will be due). */
  get busy(): boolean {
    return this.inFlight.size > 0 || this.polling || this.outcomes.size > 0 || this.ended.size > 0 || this.ending.size > 0 || this.verdict.size > 0
      || this.cancelling.size > 0 || this.cancelled.size > 0;
  }

  /** `job`: the record as the committed transaction holds it (command, environment, limits). */
  private async handOverJob(job: JobRecord, lookFirst: boolean): Promise<void> {
    const id = job.jobId;
    try {
      this.outcomes.set(id, await handOver(this.layout, job, lookFirst));
    } catch (err) {
      this.outcomes.set(id, { kind: 'outage', message: (err as Error).message });
    } finally {
      this.inFlight.delete(id);
      this.wakeSoon();
    }
  }

  /**
   * One squeue call for every active Slurm job of the HOME; sacct for those it forgot.
   * Whether it learnt anything (a cycle is then woken to record it).
   */
  private async poll(ids: Map<string, string>, cancels: Map<string, string>): Promise<boolean> {
    const r = await runSlurm('squeue', ['-h', '-t', 'all', '-j', [...ids.keys(), ...cancels.keys()].join(','), '-o', '%i|%T|%r|%S|%e']);
    if (r.kind === 'outage') {
      this.noteOutage(r.message);
      return true;
    }
    // Every id unknown: squeue says "Invalid job id specified" (exit 1).
    if (r.kind === 'refused' && !/Invalid job id/i.test(r.message)) {
      this.noteOutage(`squeue: ${r.message}`);
      return true;
    }
    const quiet = !this.outage;
    this.noteAnswer();
    const states = r.kind === 'ok' ? parseSqueue(r.stdout) : new Map<string, SlurmJobState>();
    // A cancelled job Slurm has ended or forgotten: its cancel is done.
    let confirmed = false;
    for (const [slurmId, jobId] of cancels) {
      const s = states.get(slurmId);
      if (!s || slurmEnded(s.state)) {
        this.cancelled.add(jobId);
        confirmed = true;
      }
    }
    // Nothing new since the last poll (every job still pending or running, in the state it
    // was): no cycle is woken for it.
    const news = [...ids.keys()].some((slurmId) => {
      const s = states.get(slurmId);
      return !s || slurmEnded(s.state) || s.state !== this.lastSeen.get(slurmId);
    });
    this.lastSeen.clear();
    for (const [slurmId, s] of states) this.lastSeen.set(slurmId, s.state);
    if (!news && quiet) return confirmed;
    this.polled = states;
    const done: [string, SlurmJobState | undefined][] = [];
    const forgotten: string[] = [];
    for (const [slurmId, jobId] of ids) {
      if (this.ending.has(jobId)) continue;
      const s = states.get(slurmId);
      if (s && slurmEnded(s.state)) done.push([jobId, s]);
      else if (!s) {
        if (readExitFile(this.layout, jobId)) done.push([jobId, undefined]);
        else forgotten.push(slurmId);
      }
    }
    if (forgotten.length > 0) {
      const known = await this.sacct(forgotten);
      for (const slurmId of forgotten) done.push([ids.get(slurmId)!, known.get(slurmId)]);
    }
    for (const [jobId] of done) this.ending.add(jobId);
    await Promise.all(done.map(async ([jobId, s]) => {
      const facts = await gatherEndFactsAsync(this.layout, jobId).catch((): EndFacts => ({ stderrLine: '', results: [] }));
      this.ended.set(jobId, { slurm: s, facts, asked: true });
    }));
    return true;
  }

  /** Slurm's accounting, where it exists (the database, else the jobcomp file with -c). */
  private async sacct(slurmIds: string[]): Promise<Map<string, SlurmJobState>> {
    const args = ['-X', '-n', '-P', '-j', slurmIds.join(','), '-o', 'JobIDRaw,State,ExitCode,Reason'];
    for (const extra of [[], ['-c']]) {
      const r = await runSlurm('sacct', [...extra, ...args]);
      if (r.kind === 'ok') {
        const found = parseSacct(r.stdout);
        if (found.size > 0 || extra.length > 0) return found;
      }
    }
    return new Map();
  }

  /** Fire and forget: scancel in its three forms (SPEC §11). */
  signal(slurmJobId: string, how: 'interrupt' | 'kill' | 'cancel'): void {
    this.ours.add(slurmJobId);
    void slurmSignal(slurmJobId, how).then((r) => {
      if (!r) return;
      this.log(`scancel ${slurmJobId}: ${r}`);
      // The plain scancel after killGrace is sent again by the next cycle while it fails.
      if (how === 'kill' && !/already completing or completed|Invalid job id/i.test(r)) this.killed.delete(slurmJobId);
    });
  }

  private noteOutage(message: string): void {
    if (!this.outage) this.outage = { since: isoNow(), message };
    if (this.outageSaid !== true) {
      this.outageSaid = true;
      this.log(`${OUTAGE_WORDS[outageKind(message)]} (${message}): handovers wait and are retried; no job changes meanwhile`);
    }
  }

  private noteAnswer(): void {
    if (this.outage && this.outageSaid) {
      this.log(`${OUTAGE_ENDED_WORDS[outageKind(this.outage.message)]} since ${this.outage.since})`);
    }
    this.outage = undefined;
    this.outageSaid = false;
  }

  /** The outage as doctor reads it from state.json. */
  saveOutage(tx: Transaction): void {
    const now = this.outage ?? null;
    if (JSON.stringify(tx.state.slurmOutage ?? null) !== JSON.stringify(now)) tx.state.slurmOutage = now;
  }
}

/**
 * scancel for abort (SPEC §11): `interrupt` = SIGINT to every process of the batch job
 * (`--full`: without it the signal never reaches the batch shell), `kill` = plain scancel
 * (Slurm's SIGTERM, SIGKILL after its KillWait), `cancel` = a job that has not started.
 * Returns Slurm's complaint, or undefined when it did it.
 */
export async function slurmSignal(slurmJobId: string, how: 'interrupt' | 'kill' | 'cancel'): Promise<string | undefined> {
  const args = how === 'interrupt' ? ['--signal=INT', '--full', slurmJobId] : [slurmJobId];
  const r = await runSlurm('scancel', args);
  return r.kind === 'ok' ? undefined : r.message;
}

/**
 * One job's state, for `abort` waiting on it: ended (Slurm says so, or no longer knows it),
 * with Slurm's last word where there is one. A controller that does not answer is "not ended".
 */
export async function pollOne(slurmJobId: string): Promise<{ ended: boolean; state: SlurmJobState | undefined }> {
  const r = await runSlurm('squeue', ['-h', '-t', 'all', '-j', slurmJobId, '-o', '%i|%T|%r|%S|%e']);
  if (r.kind === 'outage' || (r.kind === 'refused' && !/Invalid job id/i.test(r.message))) return { ended: false, state: undefined };
  const s = r.kind === 'ok' ? parseSqueue(r.stdout).get(slurmJobId) : undefined;
  return s ? { ended: slurmEnded(s.state), state: s } : { ended: true, state: undefined };
}

/** Cancels whatever Slurm has under the job's name (a handover whose id was never recorded). */
export async function cancelByName(jobId: string): Promise<string | undefined> {
  const r = await runSlurm('scancel', [`--name=${slurmJobName(jobId)}`]);
  return r.kind === 'ok' ? undefined : r.message;
}
